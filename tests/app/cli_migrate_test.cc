// Tests `attachgate migrate-store` as an admin runs it: an installation
// on the embedded defaults copied to another SQLite file and blob
// directory, the summary as JSON, a second run with the options after the
// subcommand, --help, and the exit status when it cannot run.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

#include "store/store.h"
#include "tests/support/run.h"
#include "tests/support/temp_dir.h"

namespace attachgate {
namespace {

using testing::run;
using testing::shell_quote;

class CliMigrateTest : public ::testing::Test {
 protected:
  std::string bin() { return ATTACHGATE_BIN; }
  std::string config() {
    const char* dir = std::getenv("ATTACHGATE_SOURCE_DIR");
    return shell_quote(std::string(dir ? dir : ".") + "/conf/attachgate.toml");
  }
  std::string destination() {
    return " --to-catalog " + shell_quote("sqlite:" + dir_ / "new.db") + " --to-blobs " +
           shell_quote("file:" + dir_ / "new-blobs");
  }
  void seed() {
    auto s = store::Store::open(dir_ / "state");
    ASSERT_TRUE(s.ok()) << s.error().message;
    auto w = (*s)->blobs.create();
    ASSERT_TRUE(w.ok());
    const std::string data = "%PDF-1.4 pretend";
    ASSERT_TRUE(w->write(data.data(), data.size()).ok());
    store::Offload o;
    o.now = 1'790'000'000;
    o.message = {"4F2A1B3C", "alice@example.org", "Plan", "", "127.0.0.1", {"bob@example.net"},
                 store::MessageOutcome::offloaded};
    o.files.push_back({"plan.pdf", "application/pdf", w->commit().value()});
    store::NewLink link;
    link.token_hash = (*s)->tokens.hash(store::new_token());
    link.pixel_id = store::new_public_id(16);
    link.expires_at = o.now + 86400;
    o.links.push_back(link);
    ASSERT_TRUE((*s)->catalog.record_offload(o).ok());
  }
  testing::TempDir dir_;
};

TEST_F(CliMigrateTest, CopiesAnInstallationAndASecondRunCopiesNothing) {
  seed();
  auto first = run("(" + bin() + " --config " + config() + " --state-dir " +
                   shell_quote(dir_ / "state") + " migrate-store" + destination() +
                   " --json 2>/dev/null)");
  ASSERT_EQ(first.status, 0) << first.out;
  auto j = nlohmann::json::parse(first.out);
  EXPECT_EQ(j.at("ok"), true);
  EXPECT_EQ(j.at("blobs").at("total"), 1);
  EXPECT_EQ(j.at("blobs").at("copied"), 1);
  EXPECT_EQ(j.at("blobs").at("verified"), 1);
  int tables = 0;
  for (const auto& t : j.at("tables")) {
    ++tables;
    EXPECT_EQ(t.at("source_rows"), t.at("destination_rows")) << t.dump();
    if (t.at("table") == "messages") {
      EXPECT_EQ(t.at("copied"), 1);
    }
  }
  EXPECT_EQ(tables, 12);

  // The options of the source may follow the subcommand too; progress on stderr.
  auto second = run(bin() + " migrate-store --config " + config() + " --state-dir " +
                    shell_quote(dir_ / "state") + destination());
  ASSERT_EQ(second.status, 0) << second.out;
  EXPECT_NE(second.out.find("migrate-store: messages: 1 rows (0 copied, 1 already there)"),
            std::string::npos) << second.out;
  EXPECT_NE(second.out.find("migrate-store: blobs 1/1"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("The destination is a whole copy"), std::string::npos) << second.out;
}

TEST_F(CliMigrateTest, HelpExplainsAndAMissingSourceIsExit2) {
  auto help = run(bin() + " migrate-store --help");
  EXPECT_EQ(help.status, 0);
  for (const char* word : {"--to-catalog", "--to-blobs", "--to-catalog-password-file",
                           "--to-blobs-credentials-file", "PGPASSWORD", "AWS_ACCESS_KEY_ID",
                           "Stop attachgate", "run again", "SHA-256",
                           "Moving an existing deployment"})
    EXPECT_NE(help.out.find(word), std::string::npos) << word << " missing from:\n" << help.out;
  EXPECT_NE(run(bin() + " migrate-store").status, 0) << "--to-catalog and --to-blobs are required";
  auto nowhere = run(bin() + " --config " + config() + " --state-dir " +
                     shell_quote(dir_ / "none") + " migrate-store" + destination());
  EXPECT_EQ(nowhere.status, 2) << nowhere.out;
  EXPECT_NE(nowhere.out.find("no such file"), std::string::npos) << nowhere.out;
}

}  // namespace
}  // namespace attachgate
