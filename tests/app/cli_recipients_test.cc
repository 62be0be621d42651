// Tests app/cmd_admin.cc's `revoke ID --recipient ADDR` and `resend ID
// --recipient ADDR`, and app/render.cc's links per recipient in `show`, as
// an admin runs them: the real binary
// against a real catalog seeded through store/, in text and JSON.
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

std::string source_dir() {
  const char* dir = std::getenv("ATTACHGATE_SOURCE_DIR");
  return dir ? dir : ".";
}

class CliRecipientsTest : public ::testing::Test {
 protected:
  std::string cmd(const std::string& args) {
    return std::string(ATTACHGATE_BIN) + " --config " +
           shell_quote(source_dir() + "/conf/attachgate.toml") + " --state-dir " +
           shell_quote(dir_ / "state") + " " + args;
  }

  // Queue id 5B3C2D4E: two files to Bob, Carol and Dave; Bob and Carol have
  // links of their own (`shared`: one link for all instead). Returns the id.
  std::string seed(bool shared = false) {
    auto s = store::Store::open(dir_ / "state", "", attachgate::testing::catalog_for_state(dir_ / "state"));
    EXPECT_TRUE(s.ok());
    store::Offload o;
    o.now = static_cast<std::int64_t>(std::time(nullptr)) - 60;
    o.message.queue_id = "5B3C2D4E";
    o.message.sender = "alice@example.org";
    o.message.recipients = {"bob@example.net", "carol@example.com", "dave@corp.example"};
    for (const char* name : {"report.pdf", "figures.xlsx"}) {
      auto w = (*s)->blobs.create();
      EXPECT_TRUE(w->write(name, 5).ok());
      o.files.push_back({name, "application/pdf", w->commit().value()});
    }
    const std::vector<std::optional<std::string>> owners =
        shared ? std::vector<std::optional<std::string>>{std::nullopt}
               : std::vector<std::optional<std::string>>{"bob@example.net", "carol@example.com"};
    for (const auto& owner : owners) {
      store::NewLink link;
      link.token_hash = (*s)->tokens.hash(store::new_token());
      link.pixel_id = store::new_public_id(16);
      link.recipient = owner;
      link.expires_at = o.now + 86400;
      o.links.push_back(link);
    }
    auto ids = (*s)->catalog.record_offload(o).value();
    // Bob has downloaded the report.
    store::NewDownload d;
    d.link_id = ids.link_ids[0];
    d.file_ids = {(*s)->catalog.link_files(ids.link_ids[0]).value()[0].file.id};
    d.ticket_hash = (*s)->tokens.hash(store::new_token());
    d.now = o.now + 1;
    d.resume_until = o.now + 3600;
    EXPECT_EQ((*s)->catalog.claim_download(d).value().outcome, store::Claim::won);
    return ids.message_public_id;
  }

  nlohmann::json show(const std::string& id) {
    auto r = run(cmd("show --json " + id));
    EXPECT_EQ(r.status, 0) << r.out;
    return nlohmann::json::parse(r.out);
  }

  testing::TempDir dir_;
};

TEST_F(CliRecipientsTest, ShowListsTheLinksPerRecipient) {
  const std::string id = seed();
  auto text = run(cmd("show " + id));
  ASSERT_EQ(text.status, 0) << text.out;
  EXPECT_NE(text.out.find("  bob@example.net (link "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("  carol@example.com (link "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("    report.pdf: 1 of 1 downloaded"), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("): used up"), std::string::npos) << "one file of two is not used up: "
                                                           << text.out;
  EXPECT_NE(text.out.find("dave@corp.example: no link of its own (got the attachment in the mail)"),
            std::string::npos) << text.out;

  auto j = show(id);
  ASSERT_EQ(j["links"].size(), 2u);
  EXPECT_EQ(j["links"][0]["recipient"], "bob@example.net");
  EXPECT_EQ(j["links"][1]["recipient"], "carol@example.com");
  EXPECT_EQ(j["links"][0]["state"], "active");
  EXPECT_TRUE(j["links"][0]["expires_at"].is_string());
  const std::string report = j["files"][0]["id"];
  EXPECT_EQ(j["links"][0]["downloads"][report], 1);
  EXPECT_EQ(j["links"][1]["downloads"][report], 0);
}

TEST_F(CliRecipientsTest, ShowSaysAllRecipientsForASharedLink) {
  const std::string id = seed(true);
  auto text = run(cmd("show " + id));
  ASSERT_EQ(text.status, 0) << text.out;
  EXPECT_NE(text.out.find("  (all recipients) (link "), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("no link of its own"), std::string::npos) << text.out;
  EXPECT_TRUE(show(id)["links"][0]["recipient"].is_null());
}

TEST_F(CliRecipientsTest, RevokeOneRecipientLeavesTheOthers) {
  const std::string id = seed();
  // The option after the id, the address in another case.
  auto r = run(cmd("revoke 5B3C2D4E --recipient Carol@Example.COM"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("revoked the link of Carol@Example.COM"), std::string::npos) << r.out;
  auto j = show(id);
  EXPECT_EQ(j["links"][0]["state"], "active") << "Bob's link was revoked too";
  EXPECT_EQ(j["links"][1]["state"], "revoked");
  const auto& last = j["events"].back();
  EXPECT_EQ(last["kind"], "revoked");
  EXPECT_EQ(last["recipient"], "carol@example.com");
  EXPECT_EQ(last["detail"].get<std::string>().rfind("by admin", 0), 0u) << last;

  // Again, JSON, the option before the id and --json before the subcommand:
  // nothing more changes or is recorded.
  auto again = run(cmd("--json revoke --recipient carol@example.com " + id));
  ASSERT_EQ(again.status, 0) << again.out;
  auto a = nlohmann::json::parse(again.out);
  EXPECT_EQ(a["revoked"], 0);
  EXPECT_EQ(a["recipient"], "carol@example.com");
  EXPECT_EQ(show(id)["events"].size(), j["events"].size());
  EXPECT_EQ(show(id)["links"][0]["state"], "active");
}

TEST_F(CliRecipientsTest, ARecipientWithoutALinkOfTheirOwnIsAnError) {
  const std::string id = seed();
  for (const std::string who : {"dave@corp.example", "eve@example.org"}) {
    auto r = run(cmd("revoke " + id + " --recipient " + who));
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("has no link of its own for '" + who + "'"), std::string::npos) << r.out;
  }
  const auto shown = show(id);  // kept: a range-for over show(id)["links"] would outlive it
  for (const auto& link : shown["links"]) EXPECT_EQ(link["state"], "active");
}

TEST_F(CliRecipientsTest, ASharedLinkIsNobodysOwn) {
  const std::string id = seed(true);
  auto r = run(cmd("revoke " + id + " --recipient bob@example.net"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("without --recipient"), std::string::npos) << r.out;
  EXPECT_EQ(show(id)["links"][0]["state"], "active");
}

TEST_F(CliRecipientsTest, ResendRevokesTheOldLinkAndQueuesANewOne) {
  const std::string id = seed();
  auto r = run(cmd("resend 5B3C2D4E --recipient BOB@example.net"));
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("a new link for BOB@example.net"), std::string::npos) << r.out;
  auto j = show(id);
  ASSERT_EQ(j["links"].size(), 3u);
  EXPECT_EQ(j["links"][0]["state"], "revoked");
  EXPECT_EQ(j["links"][1]["state"], "active") << "carol's link is untouched";
  EXPECT_EQ(j["links"][2]["recipient"], "bob@example.net");
  EXPECT_EQ(j["links"][2]["state"], "active");
  const auto& last = j["events"].back();
  EXPECT_EQ(last["kind"], "resent");
  EXPECT_EQ(last["recipient"], "bob@example.net");
  EXPECT_EQ(last["detail"].get<std::string>().rfind("by admin", 0), 0u) << last;

  // JSON, options before the subcommand; the mail waits in the outbox.
  auto again = run(cmd("--json resend --recipient carol@example.com " + id));
  ASSERT_EQ(again.status, 0) << again.out;
  auto a = nlohmann::json::parse(again.out);
  EXPECT_EQ(a["recipient"], "carol@example.com");
  EXPECT_EQ(a["links"], 2);
  EXPECT_TRUE(a["expires_at"].is_string());
  auto s = store::Store::open(dir_ / "state", "", attachgate::testing::catalog_for_state(dir_ / "state"));
  ASSERT_TRUE(s.ok());
  auto due = (*s)->catalog.due_outbox(std::time(nullptr) + 1, 10);
  ASSERT_TRUE(due.ok());
  std::vector<std::string> to;
  for (const auto& item : *due)
    if (item.kind == store::OutboxKind::fresh_link) to.push_back(item.target);
  EXPECT_EQ(to, (std::vector<std::string>{"bob@example.net", "carol@example.com"}));
}

TEST_F(CliRecipientsTest, ResendWithoutALinkOfTheirOwnIsAnErrorAndNeedsTheRecipient) {
  const std::string id = seed();
  auto r = run(cmd("resend " + id + " --recipient dave@corp.example"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("has no link of its own for 'dave@corp.example'"), std::string::npos)
      << r.out;
  auto bare = run(cmd("resend " + id));
  EXPECT_NE(bare.status, 0);
  EXPECT_NE(bare.out.find("--recipient"), std::string::npos) << bare.out;
  EXPECT_EQ(show(id)["links"].size(), 2u);
}

TEST_F(CliRecipientsTest, HelpNamesTheRecipientOption) {
  auto r = run(std::string(ATTACHGATE_BIN) + " revoke --help");
  EXPECT_NE(r.out.find("--recipient"), std::string::npos) << r.out;
  auto show_help = run(std::string(ATTACHGATE_BIN) + " show --help");
  EXPECT_NE(show_help.out.find("per recipient"), std::string::npos) << show_help.out;
}

}  // namespace
}  // namespace attachgate
