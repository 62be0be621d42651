// Tests app/render.cc: link states and hostile text in reports.
#include "app/render.h"

#include <gtest/gtest.h>

namespace attachgate::app {
namespace {

store::MessageDetail detail_with_link(std::int64_t expires_at, int downloads,
                                      std::optional<std::int64_t> revoked = std::nullopt) {
  store::MessageDetail d;
  d.message.public_id = "abc";
  d.message.subject = "hi\r\nBcc: evil@example.com";
  d.recipients = {"bob@example.net"};
  store::FileRecord f;
  f.filename = "\xe2\x80\xaegpj.exe";
  f.state = store::FileState::stored;
  d.files.push_back(f);
  store::LinkRecord l;
  l.expires_at = expires_at;
  l.max_downloads = 1;
  l.revoked_at = revoked;
  d.links.push_back(l);
  d.downloads = {{downloads}};
  return d;
}

TEST(Render, LinkStateFollowsExpiryUseAndRevocation) {
  EXPECT_EQ(show_json(detail_with_link(200, 0), 100)["links"][0]["state"], "active");
  EXPECT_EQ(show_json(detail_with_link(200, 0), 200)["links"][0]["state"], "expired");
  EXPECT_EQ(show_json(detail_with_link(200, 1), 100)["links"][0]["state"], "used up");
  EXPECT_EQ(show_json(detail_with_link(200, 0, 150), 100)["links"][0]["state"], "revoked");
}

TEST(Render, TextNeverCarriesLineBreaksFromMail) {
  std::string text = show_text(detail_with_link(200, 0), 100);
  EXPECT_EQ(text.find("hi\r\nBcc"), std::string::npos);
  EXPECT_NE(text.find("hi\\x0d\\x0aBcc"), std::string::npos) << text;
}

TEST(Render, JsonTextSurvivesInvalidUtf8) {
  auto d = detail_with_link(200, 0);
  d.message.sender = "bad\xff";
  std::string out = json_text(show_json(d, 100));
  EXPECT_NE(out.find("bad\xef\xbf\xbd"), std::string::npos);
}

}  // namespace
}  // namespace attachgate::app
