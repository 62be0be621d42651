// Tests app/cmd_admin.cc as an admin runs it: revoke, extend, stats and
// events against a real catalog seeded through store/, in text and JSON, with
// hostile text from mail and clients in the CSV and JSON output.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <ctime>

#include "store/store.h"
#include "tests/support/run.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate {
namespace {

using testing::run;
using testing::shell_quote;

constexpr const char* kHostileAgent = "Evil, \"Agent\"\r\nX-Injected: 1";
constexpr const char* kHostileDetail = "=HYPERLINK(\"http://evil.example/\",\"click\")";
constexpr const char* kHostileSubject = "Hi, \"you\"\nBcc: everyone";

std::string source_dir() {
  const char* dir = std::getenv("ATTACHGATE_SOURCE_DIR");
  return dir ? dir : ".";
}

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::int64_t parse_iso(const std::string& text) {
  std::tm tm{};
  if (!::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return -1;
  return static_cast<std::int64_t>(::timegm(&tm));
}

// A tiny RFC 4180 reader, so the test checks what a spreadsheet would see.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += text[++i];
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field);
      field.clear();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(field);
      field.clear();
      rows.emplace_back();
      ++i;
    } else {
      field += c;
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quoted field";
  if (rows.back().empty() && field.empty()) rows.pop_back();
  return rows;
}

class CliAdminTest : public ::testing::Test {
 protected:
  std::string cmd(const std::string& args) {
    return std::string(ATTACHGATE_BIN) + " --config " +
           shell_quote(source_dir() + "/conf/attachgate.toml") + " --state-dir " +
           shell_quote(dir_ / "state") + " " + args;
  }
  // One message offloaded a minute ago (queue id 4F2A1B3C, one 16-byte file,
  // one link for a day), plus an event a hostile client caused; returns its id.
  std::string seed() {
    auto s = store::Store::open(dir_ / "state", "", attachgate::testing::catalog_for_state(dir_ / "state"));
    EXPECT_TRUE(s.ok());
    auto w = (*s)->blobs.create();
    std::string data = "%PDF-1.4 pretend";
    EXPECT_TRUE(w->write(data.data(), data.size()).ok());
    store::Offload o;
    o.now = now() - 60;
    o.message.queue_id = "4F2A1B3C";  // field by field: NewMessage grows
    o.message.sender = "alice@example.org";
    o.message.subject = kHostileSubject;
    o.message.recipients = {"bob@example.net"};
    o.files.push_back({"report.pdf", "application/pdf", w->commit().value()});
    store::NewLink link;
    link.token_hash = (*s)->tokens.hash(store::new_token());
    link.pixel_id = store::new_public_id(16);
    link.expires_at = expires_at_ = o.now + 86400;
    o.links.push_back(link);
    auto ids = (*s)->catalog.record_offload(o).value();
    store::EventRecord e;
    e.message_id = ids.message_id;
    e.link_id = ids.link_ids[0];
    e.kind = store::EventKind::viewed;
    e.at = o.now + 1;
    e.remote_addr = "198.51.100.7";
    e.user_agent = kHostileAgent;
    e.detail = kHostileDetail;
    EXPECT_TRUE((*s)->catalog.add_event(e).ok());
    return ids.message_public_id;
  }
  nlohmann::json show(const std::string& id) {
    auto r = run(cmd("show --json " + id));
    EXPECT_EQ(r.status, 0) << r.out;
    return nlohmann::json::parse(r.out);
  }
  testing::TempDir dir_;
  std::int64_t expires_at_ = 0;
};

TEST_F(CliAdminTest, HelpNamesTheAdminCommands) {
  auto r = run(std::string(ATTACHGATE_BIN) + " --help");
  for (const char* word : {"revoke", "extend", "stats", "events"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word << " missing from:\n" << r.out;
  auto events = run(std::string(ATTACHGATE_BIN) + " events --help");
  EXPECT_NE(events.out.find("--format"), std::string::npos) << events.out;
}

TEST_F(CliAdminTest, RevokeByQueueIdThenShowSaysRevoked) {
  const std::string id = seed();
  EXPECT_EQ(show(id)["links"][0]["state"], "active");
  auto r = run(cmd("revoke 4F2A1B3C"));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("revoked 1 link"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(id), std::string::npos) << r.out;

  auto detail = show(id);
  EXPECT_EQ(detail["links"][0]["state"], "revoked");
  EXPECT_TRUE(detail["links"][0]["revoked_at"].is_string());
  EXPECT_EQ(detail["events"].back()["kind"], "revoked");
  EXPECT_EQ(detail["events"].back()["detail"].get<std::string>().rfind("by admin", 0), 0u)
      << detail["events"].back();

  // Again: done already, nothing more recorded.
  auto again = run(cmd("revoke --json " + id));
  EXPECT_EQ(again.status, 0) << again.out;
  auto j = nlohmann::json::parse(again.out);
  EXPECT_EQ(j["revoked"], 0);
  EXPECT_EQ(j["id"], id);
  EXPECT_EQ(show(id)["events"].size(), detail["events"].size());

  // A revoked message cannot be extended, and the admin is told why.
  auto extend = run(cmd("extend " + id + " 7d"));
  EXPECT_EQ(extend.status, 1) << extend.out;
  EXPECT_NE(extend.out.find("revoked"), std::string::npos) << extend.out;
  EXPECT_EQ(show(id)["links"][0]["state"], "revoked");
}

TEST_F(CliAdminTest, ExtendMovesTheExpiry) {
  const std::string id = seed();
  const std::int64_t before = now();
  auto r = run(cmd("extend --json 4F2A1B3C 2d"));
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["extended"], 1);
  // Still active, so counted from the old expiry.
  EXPECT_EQ(parse_iso(j["expires_at"]), expires_at_ + 2 * 86400) << r.out;
  EXPECT_EQ(parse_iso(show(id)["links"][0]["expires_at"]), expires_at_ + 2 * 86400);
  EXPECT_EQ(show(id)["events"].back()["kind"], "extended");
  EXPECT_GT(expires_at_, before);

  auto text = run(cmd("extend " + id + " 12h"));
  EXPECT_EQ(text.status, 0) << text.out;
  EXPECT_NE(text.out.find("extended 1 link until"), std::string::npos) << text.out;

  auto bad = run(cmd("extend " + id + " forever"));
  EXPECT_EQ(bad.status, 2) << bad.out;
  EXPECT_NE(bad.out.find("7d"), std::string::npos) << "no hint at the syntax: " << bad.out;
}

TEST_F(CliAdminTest, StatsJsonCountsToday) {
  seed();
  auto r = run(cmd("stats --json"));
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["days"].size(), 14u);
  const auto& today = j["days"].back();
  // The seed is a minute old: today's, unless the test straddles midnight UTC.
  const auto messages = today["messages"].get<int>() + j["days"][12]["messages"].get<int>();
  EXPECT_EQ(messages, 1) << r.out;
  EXPECT_EQ(j["total"]["messages"], 1);
  EXPECT_EQ(j["total"]["files"], 1);
  EXPECT_EQ(j["total"]["bytes"], 16);
  EXPECT_EQ(j["total"]["downloads"], 0);
  EXPECT_EQ(j["stored"]["files"], 1);
  EXPECT_EQ(j["stored"]["bytes"], 16);

  auto three = nlohmann::json::parse(run(cmd("stats --json --days 3")).out);
  EXPECT_EQ(three["days"].size(), 3u);
  auto text = run(cmd("stats"));
  EXPECT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("stored now: 1 file"), std::string::npos) << text.out;
}

TEST_F(CliAdminTest, EventsAsCsvQuoteHostileText) {
  const std::string id = seed();
  auto r = run(cmd("events 4F2A1B3C"));
  ASSERT_EQ(r.status, 0) << r.out;
  auto rows = parse_csv(r.out);
  ASSERT_EQ(rows.size(), 3u) << r.out;  // header, offloaded, viewed
  EXPECT_EQ(rows[0], (std::vector<std::string>{"at", "kind", "file", "link", "recipient",
                                               "remote_addr", "user_agent", "detail"}));
  for (const auto& row : rows) EXPECT_EQ(row.size(), 8u) << r.out;
  EXPECT_EQ(rows[1][1], "offloaded");
  EXPECT_EQ(rows[2][1], "viewed");
  EXPECT_EQ(rows[2][5], "198.51.100.7");
  EXPECT_EQ(rows[2][6], kHostileAgent);  // commas, quotes and CRLF survive, quoted
  EXPECT_EQ(rows[2][7], std::string("'") + kHostileDetail);  // a formula stays text
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(run(cmd("events --format csv " + id)).out, r.out);
}

TEST_F(CliAdminTest, EventsAsJsonStayValid) {
  const std::string id = seed();
  for (const std::string& args :
       {"events --json " + id, std::string("events --format json 4F2A1B3C")}) {
    auto r = run(cmd(args));
    ASSERT_EQ(r.status, 0) << r.out;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["message"]["id"], id);
    EXPECT_EQ(j["message"]["subject"], kHostileSubject);
    ASSERT_EQ(j["events"].size(), 2u);
    EXPECT_EQ(j["events"][1]["kind"], "viewed");
    EXPECT_EQ(j["events"][1]["user_agent"], kHostileAgent);
    EXPECT_EQ(j["events"][1]["detail"], kHostileDetail);
    EXPECT_TRUE(j["events"][1]["link"].is_number());
  }
}

TEST_F(CliAdminTest, UnknownIdIsNotFound) {
  seed();
  for (const char* args : {"revoke nosuchid", "extend nosuchid 1d", "events nosuchid",
                           "revoke --json nosuchid"}) {
    auto r = run(cmd(args));
    EXPECT_EQ(r.status, 1) << args << ": " << r.out;
    EXPECT_NE(r.out.find("no message with id or queue id 'nosuchid'"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("attachgate list"), std::string::npos) << r.out;
  }
}

TEST_F(CliAdminTest, WithoutCatalogSaysWhatToDo) {
  for (const char* args : {"revoke x", "stats", "events x"}) {
    auto r = run(cmd(args));
    EXPECT_EQ(r.status, 2) << args << ": " << r.out;
    EXPECT_NE(r.out.find("no catalog yet"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace attachgate
