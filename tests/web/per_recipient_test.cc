// Tests the web side of links per recipient (web/handler.cc, link_routes.cc,
// download_routes.cc, sender_routes.cc, status_recipients.cc): one
// recipient's download leaves the others' links alone, every event through
// a link names its recipient, and the status page has a row per recipient
// with a revoke and a "send a new link" of its own. A real store in a temporary directory and the
// shipped templates, with a clock the test moves.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <map>

#include "store/secrets.h"
#include "tests/web/web_fixture.h"
#include "web/status_recipients.h"

namespace attachgate::web {
namespace {

constexpr std::int64_t kNow = 1'790'000'000;  // 2026-09-21 14:13:20 UTC
constexpr const char* kBob = "bob@example.net";
constexpr const char* kCarol = "carol@example.com";
constexpr const char* kDave = "dave@corp.example";  // internal: no link

struct Sent {
  std::map<std::string, std::string> token, pixel;  // by recipient
  std::string status;
  std::vector<std::string> file_ids;
  std::vector<std::int64_t> link_ids;
};

class PerRecipientTest : public WebFixture {
 protected:
  void SetUp() override { open(HandlerConfig{}, &now_); }

  // Two files to Bob, Carol and Dave; a link of its own for each of
  // `with_links` (an empty name: one shared link), each allowing one
  // download per file.
  Sent offload(std::vector<std::string> with_links, const std::string& code = "",
               store::DownloadNotice download_notice = store::DownloadNotice::never) {
    Sent sent;
    store::Offload o;
    o.now = kNow;
    o.download_notice = download_notice;
    o.message.queue_id = "Q1";
    o.message.sender = "alice@example.org";
    o.message.subject = "Quarterly figures";
    o.message.recipients = {kBob, kCarol, kDave};
    for (const char* name : {"report.pdf", "figures.xlsx"}) {
      auto w = store_->blobs.create();
      EXPECT_TRUE(w.ok());
      const std::string data = std::string("bytes of ") + name;
      EXPECT_TRUE(w->write(data.data(), data.size()).ok());
      o.files.push_back({name, "application/pdf", w->commit().value()});
    }
    for (const auto& r : with_links) {
      store::NewLink link;
      const std::string token = store::new_token();
      link.token_hash = store_->tokens.hash(token);
      link.pixel_id = store::new_public_id(16);
      if (!r.empty()) link.recipient = r;
      link.expires_at = kNow + 86400;
      if (!code.empty()) link.code_hash = store::hash_access_code(code).value();
      o.links.push_back(link);
      sent.token[r] = token;
      sent.pixel[r] = link.pixel_id;
    }
    sent.status = store::new_token();
    o.status_token_hash = store_->tokens.hash(sent.status);
    auto ids = store_->catalog.record_offload(o);
    EXPECT_TRUE(ids.ok()) << ids.error().message;
    sent.file_ids = ids->file_public_ids;
    sent.link_ids = ids->link_ids;
    return sent;
  }

  // Claims `file` through `token` and sends it whole (or `sent` bytes).
  void download(const std::string& token, const std::string& file,
                std::optional<std::uint64_t> sent = std::nullopt) {
    Response claimed = post("/d/" + token, "file=" + file);
    ASSERT_EQ(claimed.status, 303) << claimed.body;
    Response r = get(*claimed.header("Location"));
    ASSERT_EQ(r.status, 200) << r.body;
    r.on_done(sent.value_or(r.length));
  }

  store::MessageDetail detail() { return store_->catalog.show_message("Q1").value().value(); }

  std::vector<int> downloads_of(std::int64_t link_id) {
    std::vector<int> out;
    auto files = store_->catalog.link_files(link_id);
    EXPECT_TRUE(files.ok());
    if (files.ok())
      for (const auto& f : *files) out.push_back(f.downloads);
    return out;
  }

  std::string csrf_of(const std::string& page) {
    const std::string marker = "name=\"csrf\" value=\"";
    const auto at = page.find(marker);
    return at == std::string::npos ? "" : page.substr(at + marker.size(), 32);
  }

  // The part of a status page from a recipient's heading to the next one.
  static std::string row_of(const std::string& page, const std::string& address) {
    const auto at = page.find("<h3 class=\"file-name\">" + address + "</h3>");
    if (at == std::string::npos) return "";
    return page.substr(at, page.find("</li>", at) - at);
  }

  std::int64_t now_ = kNow + 10;
};

TEST_F(PerRecipientTest, OneRecipientsDownloadLeavesTheOthersLinkUntouched) {
  Sent s = offload({kBob, kCarol});
  download(s.token[kBob], s.file_ids[0]);
  EXPECT_EQ(downloads_of(s.link_ids[0]), (std::vector<int>{1, 0}));
  EXPECT_EQ(downloads_of(s.link_ids[1]), (std::vector<int>{0, 0})) << "Carol's link was used";

  // Bob's second attempt at the same file: 410. Carol still gets it.
  Response again = post("/d/" + s.token[kBob], "file=" + s.file_ids[0]);
  EXPECT_EQ(again.status, 410);
  EXPECT_NE(again.body.find("already downloaded"), std::string::npos) << again.body;
  Response carol = get("/d/" + s.token[kCarol]);
  ASSERT_EQ(carol.status, 200);
  EXPECT_NE(carol.body.find("value=\"" + s.file_ids[0] + "\""), std::string::npos)
      << "Carol's page offers the file Bob took";
  download(s.token[kCarol], s.file_ids[0]);
  EXPECT_EQ(downloads_of(s.link_ids[1]), (std::vector<int>{1, 0}));
  EXPECT_EQ(post("/d/" + s.token[kCarol], "file=" + s.file_ids[0]).status, 410);
}

// download_notice = "first" tells the sender of each recipient's first
// download, naming the recipient; a recipient's second file is no news.
TEST_F(PerRecipientTest, TheFirstDownloadNoticeIsPerRecipientAndNamesThem) {
  Sent s = offload({kBob, kCarol}, "", store::DownloadNotice::first);
  auto notices = [&] {
    std::vector<std::string> who;
    const auto due = store_->catalog.due_outbox(now_ + 1, 100).value();
    for (const auto& item : due)
      if (item.kind == store::OutboxKind::download_notice)
        who.push_back(nlohmann::json::parse(item.payload).value("recipient", "?"));
    return who;
  };
  download(s.token[kBob], s.file_ids[0]);
  EXPECT_EQ(notices(), (std::vector<std::string>{kBob}));
  download(s.token[kBob], s.file_ids[1]);
  EXPECT_EQ(notices(), (std::vector<std::string>{kBob})) << "Bob's second file is not his first";
  download(s.token[kCarol], s.file_ids[0]);
  EXPECT_EQ(notices(), (std::vector<std::string>{kBob, kCarol}));
}

TEST_F(PerRecipientTest, EveryEventThroughALinkNamesItsRecipient) {
  Sent s = offload({kBob, kCarol}, "K7P-4QX-M2W");
  get("/d/" + s.token[kBob]);                              // viewed
  get("/o/" + s.pixel[kBob] + ".gif");                     // opened
  post("/d/" + s.token[kCarol], "code=wrong&file=x");      // denied
  get("/o/" + s.pixel[kCarol] + ".gif");                   // opened
  Response claimed = post("/d/" + s.token[kCarol], "code=K7P-4QX-M2W&file=" + s.file_ids[1]);
  ASSERT_EQ(claimed.status, 303) << claimed.body;
  Response cut = get(*claimed.header("Location"));
  ASSERT_EQ(cut.status, 200);
  cut.on_done(3);                                          // downloaded, interrupted
  Response rest = get(*claimed.header("Location"));
  ASSERT_EQ(rest.status, 200);
  rest.on_done(rest.length);                               // downloaded, complete

  std::map<std::string, std::vector<std::string>> seen;  // kind -> recipients
  for (const auto& e : detail().events) {
    if (e.kind == store::EventKind::offloaded) continue;
    ASSERT_TRUE(e.link_id.has_value()) << to_string(e.kind);
    const std::string want = *e.link_id == s.link_ids[0] ? kBob : kCarol;
    EXPECT_EQ(e.recipient, want) << to_string(e.kind) << " " << e.detail;
    seen[std::string(to_string(e.kind))].push_back(e.recipient);
  }
  EXPECT_EQ(seen["viewed"], (std::vector<std::string>{kBob}));
  EXPECT_EQ(seen["opened"], (std::vector<std::string>{kBob, kCarol}));
  EXPECT_EQ(seen["denied"], (std::vector<std::string>{kCarol}));
  EXPECT_EQ(seen["downloaded"], (std::vector<std::string>{kCarol, kCarol}));
}

TEST_F(PerRecipientTest, ASharedLinksEventsNameNobody) {
  Sent s = offload({""});
  get("/d/" + s.token[""]);
  download(s.token[""], s.file_ids[0]);
  for (const auto& e : detail().events) EXPECT_EQ(e.recipient, "") << to_string(e.kind);
}

TEST_F(PerRecipientTest, StatusPageHasARowPerRecipientAndRevokesOnlyOne) {
  Sent s = offload({kBob, kCarol});
  ASSERT_TRUE(store_->catalog
                  .add_event({0, store_->catalog.message_row_id("Q1").value(), std::nullopt,
                              std::nullopt, store::EventKind::delivered, kNow + 5, "Bob@Example.NET",
                              "", "", "relay=mx.example.net"})
                  .ok());
  now_ = kNow + 60;
  get("/o/" + s.pixel[kBob] + ".gif");
  now_ = kNow + 120;
  download(s.token[kBob], s.file_ids[0]);

  Response page = get("/s/" + s.status);
  ASSERT_EQ(page.status, 200);
  const std::string bob = row_of(page.body, kBob), carol = row_of(page.body, kCarol),
                    dave = row_of(page.body, kDave);
  ASSERT_FALSE(bob.empty()) << page.body;
  ASSERT_FALSE(carol.empty()) << page.body;
  ASSERT_FALSE(dave.empty()) << page.body;
  EXPECT_NE(bob.find("delivered 2026-09-21 14:13:25 UTC"), std::string::npos) << bob;
  EXPECT_NE(bob.find("<dt>Opened</dt><dd>2026-09-21 14:14:20 UTC</dd>"), std::string::npos) << bob;
  EXPECT_NE(bob.find("<dt>report.pdf</dt><dd>1 of 1 downloads: 2026-09-21 14:15:20 UTC</dd>"),
            std::string::npos) << bob;
  EXPECT_NE(bob.find("<dt>figures.xlsx</dt><dd>0 of 1 downloads</dd>"), std::string::npos) << bob;
  EXPECT_NE(bob.find("active"), std::string::npos) << bob;
  EXPECT_NE(carol.find("no delivery news yet"), std::string::npos) << carol;
  EXPECT_NE(carol.find("<dt>Opened</dt><dd>not yet</dd>"), std::string::npos) << carol;
  EXPECT_NE(carol.find("value=\"revoke-recipient\""), std::string::npos) << carol;
  EXPECT_NE(dave.find("got the attachment in the mail"), std::string::npos) << dave;
  EXPECT_EQ(dave.find("Opened"), std::string::npos) << dave;
  EXPECT_EQ(dave.find("revoke-recipient"), std::string::npos) << "Dave has no link to revoke";

  const std::string csrf = csrf_of(page.body);
  ASSERT_EQ(csrf.size(), 32u);
  // The csrf rule holds for this form too; an unknown or linkless address changes nothing.
  EXPECT_EQ(post("/s/" + s.status, "do=revoke-recipient&recipient=carol%40example.com").status, 403);
  EXPECT_EQ(post("/s/" + s.status, "do=revoke-recipient&csrf=" + csrf).status, 404);
  EXPECT_EQ(post("/s/" + s.status,
                 "do=revoke-recipient&recipient=dave%40corp.example&csrf=" + csrf).status, 404);
  EXPECT_EQ(get("/d/" + s.token[kCarol]).status, 200);

  Response revoked =
      post("/s/" + s.status, "do=revoke-recipient&recipient=CAROL%40example.com&csrf=" + csrf);
  EXPECT_EQ(revoked.status, 303) << revoked.body;
  EXPECT_EQ(get("/d/" + s.token[kCarol]).status, 410);
  // Bob's link works on: his other file downloads.
  EXPECT_EQ(get("/d/" + s.token[kBob]).status, 200);
  download(s.token[kBob], s.file_ids[1]);
  EXPECT_EQ(downloads_of(s.link_ids[0]), (std::vector<int>{1, 1}));

  int revoked_events = 0;
  for (const auto& e : detail().events) {
    if (e.kind != store::EventKind::revoked) continue;
    ++revoked_events;
    EXPECT_EQ(e.recipient, kCarol);
    EXPECT_EQ(e.link_id, s.link_ids[1]);
    EXPECT_EQ(e.detail, "by the sender");
  }
  EXPECT_EQ(revoked_events, 1);

  Response after = get("/s/" + s.status);
  const std::string carol_after = row_of(after.body, kCarol);
  EXPECT_NE(carol_after.find("revoked"), std::string::npos) << carol_after;
  EXPECT_EQ(carol_after.find("revoke-recipient"), std::string::npos) << "no button once revoked";
  EXPECT_NE(row_of(after.body, kBob).find("used up"), std::string::npos);
  // A replayed revoke for Carol changes nothing more.
  EXPECT_EQ(post("/s/" + s.status, "do=revoke-recipient&recipient=carol%40example.com&csrf=" + csrf)
                .status, 409);
}

// "Send a new link": for a used-up (or revoked) link too, within the
// sender's bounds; the old link stops, the new one downloads, and the row
// keeps the earlier download times.
TEST_F(PerRecipientTest, SendAgainFromTheStatusPageReplacesAUsedUpLink) {
  Sent s = offload({kBob, kCarol});
  now_ = kNow + 120;
  download(s.token[kBob], s.file_ids[0]);
  download(s.token[kBob], s.file_ids[1]);  // Bob's link is used up

  Response page = get("/s/" + s.status);
  const std::string bob = row_of(page.body, kBob);
  EXPECT_NE(bob.find("used up"), std::string::npos) << bob;
  EXPECT_NE(bob.find("value=\"resend-recipient\""), std::string::npos) << bob;
  EXPECT_EQ(bob.find("revoke-recipient"), std::string::npos) << "nothing left to revoke";
  EXPECT_EQ(row_of(page.body, kDave).find("resend-recipient"), std::string::npos)
      << "Dave got the attachments in the mail";
  const std::string csrf = csrf_of(page.body);
  EXPECT_EQ(post("/s/" + s.status, "do=resend-recipient&recipient=bob%40example.net").status, 403);
  EXPECT_EQ(post("/s/" + s.status,
                 "do=resend-recipient&recipient=dave%40corp.example&csrf=" + csrf).status, 404);

  now_ = kNow + 600;
  Response sent = post("/s/" + s.status, "do=resend-recipient&recipient=BOB%40example.net&csrf=" + csrf);
  ASSERT_EQ(sent.status, 303) << sent.body;
  auto due = store_->catalog.due_outbox(now_, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  EXPECT_EQ((*due)[0].kind, store::OutboxKind::fresh_link);
  EXPECT_EQ((*due)[0].target, kBob);
  const std::string fresh = (*due)[0].payload;
  EXPECT_EQ(get("/d/" + s.token[kBob]).status, 410) << "the old link is revoked";
  EXPECT_EQ(get("/d/" + fresh).status, 200);
  download(fresh, s.file_ids[0]);

  Response after = get("/s/" + s.status);
  const std::string bob_after = row_of(after.body, kBob);
  EXPECT_NE(bob_after.find("active"), std::string::npos) << bob_after;
  EXPECT_NE(bob_after.find("<dt>report.pdf</dt><dd>1 of 1 downloads: 2026-09-21 14:15:20 UTC "
                           "(earlier link), 2026-09-21 14:23:20 UTC</dd>"),
            std::string::npos) << "both links' downloads: " << bob_after;
  EXPECT_NE(after.body.find("resent"), std::string::npos) << "in the trail";

  // Every link revoked: sending again still works (that is what it is for).
  ASSERT_EQ(post("/s/" + s.status, "do=revoke&csrf=" + csrf).status, 303);
  EXPECT_EQ(post("/s/" + s.status, "do=resend-recipient&recipient=carol%40example.com&csrf=" + csrf)
                .status, 303);
}

TEST_F(PerRecipientTest, SendAgainStopsAtTheSendersBounds) {
  Sent s = offload({kBob, kCarol});
  const std::string csrf = csrf_of(get("/s/" + s.status).body);
  const std::string form = "do=resend-recipient&recipient=bob%40example.net&csrf=" + csrf;
  for (int i = 1; i < kSenderMaxLinksPerRecipient; ++i)
    ASSERT_EQ(post("/s/" + s.status, form).status, 303) << i;
  Response too_many = post("/s/" + s.status, form);
  EXPECT_EQ(too_many.status, 409);
  EXPECT_NE(too_many.body.find("too often"), std::string::npos) << too_many.body;
  EXPECT_EQ(row_of(get("/s/" + s.status).body, kBob).find("resend-recipient"), std::string::npos);

  // Past the sender's 90 days, and with the files gone: refused, with why.
  const std::string carol = "do=resend-recipient&recipient=carol%40example.com&csrf=" + csrf;
  now_ = kNow + kSenderMaxLifetime;
  Response late = post("/s/" + s.status, carol);
  EXPECT_EQ(late.status, 409);
  EXPECT_NE(late.body.find("too late"), std::string::npos) << late.body;
  now_ = kNow + 100;
  for (const auto& f : detail().files) ASSERT_TRUE(store_->catalog.mark_blob_missing(f.blob_id).ok());
  EXPECT_EQ(row_of(get("/s/" + s.status).body, kCarol).find("resend-recipient"), std::string::npos);
  Response gone = post("/s/" + s.status, carol);
  EXPECT_EQ(gone.status, 409);
  EXPECT_NE(gone.body.find("files are gone"), std::string::npos) << gone.body;
  EXPECT_EQ(detail().links.size(), static_cast<std::size_t>(kSenderMaxLinksPerRecipient) + 1);
}

TEST_F(PerRecipientTest, WholeMessageRevokeAndExtendActOnEveryLink) {
  Sent s = offload({kBob, kCarol});
  const std::string csrf = csrf_of(get("/s/" + s.status).body);
  EXPECT_EQ(post("/s/" + s.status, "do=extend&days=7&csrf=" + csrf).status, 303);
  for (const auto& l : detail().links) EXPECT_EQ(l.expires_at, kNow + 8 * 86400);
  // Carol's link revoked first: the whole-message revoke still ends Bob's.
  ASSERT_EQ(post("/s/" + s.status, "do=revoke-recipient&recipient=" + std::string("carol%40example.com") +
                                       "&csrf=" + csrf).status, 303);
  Response page = get("/s/" + s.status);
  EXPECT_NE(page.body.find("Revoke all links now"), std::string::npos);
  EXPECT_EQ(post("/s/" + s.status, "do=revoke&csrf=" + csrf).status, 303);
  EXPECT_EQ(get("/d/" + s.token[kBob]).status, 410);
  EXPECT_EQ(get("/d/" + s.token[kCarol]).status, 410);
  Response ended = get("/s/" + s.status);
  EXPECT_EQ(ended.body.find("value=\"revoke"), std::string::npos) << "no buttons once all ended";
  EXPECT_EQ(post("/s/" + s.status, "do=extend&days=7&csrf=" + csrf).status, 409);
}

TEST_F(PerRecipientTest, OneRecipientsOwnLinkIsTheLinkOfTheMessage) {
  Sent s = offload({kBob});
  Response page = get("/s/" + s.status);
  ASSERT_EQ(page.status, 200);
  // The sentence and buttons speak of the one link, as for a shared link...
  EXPECT_NE(page.body.find("The download link is <strong class=\"state\">active</strong>"),
            std::string::npos) << page.body;
  EXPECT_NE(page.body.find("Revoke the link now"), std::string::npos);
  EXPECT_EQ(page.body.find("Revoke all links now"), std::string::npos);
  // ...and the rows still say who got what.
  EXPECT_NE(row_of(page.body, kBob).find("value=\"revoke-recipient\""), std::string::npos);
  EXPECT_NE(row_of(page.body, kDave).find("got the attachment in the mail"), std::string::npos);
  EXPECT_NE(row_of(page.body, kCarol).find("got the attachment in the mail"), std::string::npos);
}

TEST_F(PerRecipientTest, ASharedLinkRendersAsBefore) {
  Sent s = offload({""});
  Response page = get("/s/" + s.status);
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("The download link is <strong class=\"state\">active</strong>"),
            std::string::npos);
  EXPECT_NE(page.body.find("Revoke the link now"), std::string::npos);
  EXPECT_EQ(page.body.find("revoke-recipient"), std::string::npos);
  EXPECT_EQ(page.body.find("got the attachment in the mail"), std::string::npos);
  EXPECT_NE(page.body.find("<ul class=\"recipients\">"), std::string::npos);
  const std::string csrf = csrf_of(page.body);
  EXPECT_EQ(post("/s/" + s.status, "do=revoke-recipient&recipient=bob%40example.net&csrf=" + csrf)
                .status, 404) << "a shared link is nobody's own";
  EXPECT_EQ(get("/d/" + s.token[""]).status, 200);
}

}  // namespace
}  // namespace attachgate::web
