// Tests the attachgate executable as an admin runs it: check, list, show,
// --help, --json. The catalog is a real SQLite file seeded through store/.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

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

std::string bin() { return ATTACHGATE_BIN; }

class CliTest : public ::testing::Test {
 protected:
  std::string cmd(const std::string& args) {
    return bin() + " --config " + shell_quote(source_dir() + "/conf/attachgate.toml") +
           " --state-dir " + shell_quote(dir_ / "state") + " " + args;
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  // Seeds one offloaded message with a hostile subject; returns its id.
  std::string seed() {
    auto s = store::Store::open(dir_ / "state", "", attachgate::testing::catalog_for_state(dir_ / "state"));
    EXPECT_TRUE(s.ok());
    auto w = (*s)->blobs.create();
    std::string data = "%PDF-1.4 pretend";
    EXPECT_TRUE(w->write(data.data(), data.size()).ok());
    store::Offload o;
    o.now = 1'790'000'000;
    o.message = {"4F2A1B3C", "alice@example.org", "Evil \x1b[2J subject", "", "127.0.0.1",
                 {"bob@example.net"}, store::MessageOutcome::offloaded};
    o.files.push_back({"report.pdf", "application/pdf", w->commit().value()});
    store::NewLink link;
    link.token_hash = (*s)->tokens.hash(store::new_token());
    link.pixel_id = store::new_public_id(16);
    link.expires_at = o.now + 86400;
    o.links.push_back(link);
    return (*s)->catalog.record_offload(o).value().message_public_id;
  }
  testing::TempDir dir_;
};

TEST_F(CliTest, HelpNamesTheSubcommands) {
  auto r = run(bin() + " --help");
  EXPECT_EQ(r.status, 0);
  for (const char* word : {"check", "list", "show", "--json", "--state-dir", "--config"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word << " missing from:\n" << r.out;
  auto bad = run(bin() + " frobnicate");
  EXPECT_NE(bad.status, 0);
}

// api-key: a new key each time, printed with the [api] keys entry that is
// its SHA-256; --hash gives the same entry for a key read from stdin.
TEST_F(CliTest, ApiKeyPrintsAKeyAndTheEntryForIt) {
  auto made = run(bin() + " --json api-key");
  ASSERT_EQ(made.status, 0) << made.out;
  auto j = nlohmann::json::parse(made.out);
  const std::string key = j.at("key"), hash = j.at("hash");
  EXPECT_EQ(key.rfind("ag_", 0), 0u);
  EXPECT_GE(key.size(), 40u);
  auto again = run("printf '%s\\n' " + shell_quote(key) + " | " + bin() + " api-key --hash");
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("keys = [\"" + hash + "\"]"), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find(key), std::string::npos) << "--hash must not echo the key";
  auto other = nlohmann::json::parse(run(bin() + " --json api-key").out);
  EXPECT_NE(other.at("key"), key);
  EXPECT_NE(other.at("hash"), hash);
  // sha256("abc"), the FIPS 180-2 example.
  auto abc = run("printf abc | " + bin() + " --json api-key --hash");
  EXPECT_EQ(nlohmann::json::parse(abc.out).at("hash"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(CliTest, CheckAcceptsTheShippedFiles) {
  auto r = run(cmd("check"));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("large-to-external"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ok"), std::string::npos);
}

TEST_F(CliTest, CheckReportsEveryProblemWithFileAndLine) {
  write("policy.toml",
        "on_error = \"tempfail\"\n"
        "[[rule]]\n"
        "name = \"a\"\n"
        "action = \"ofload\"\n"
        "[[rule]]\n"
        "name = \"b\"\n"
        "action = \"offload\"\n"
        "min_size = \"ten megabytes\"\n");
  auto r = run(cmd("--policy " + shell_quote(dir_ / "policy.toml") + " check"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find(dir_ / "policy.toml:4: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(dir_ / "policy.toml:8: "), std::string::npos) << r.out;

  auto j = run(cmd("--policy " + shell_quote(dir_ / "policy.toml") + " check --json"));
  EXPECT_EQ(j.status, 1);
  auto parsed = nlohmann::json::parse(j.out);
  EXPECT_FALSE(parsed["ok"].get<bool>());
  EXPECT_EQ(parsed["problems"].size(), 2u) << j.out;
}

TEST_F(CliTest, CheckRejectsBadFlagValues) {
  auto r = run(cmd("--public-url ftp://files.example.org check"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("public"), std::string::npos) << r.out;
}

TEST_F(CliTest, ExplicitMissingConfigIsAnError) {
  auto r = run(bin() + " --config " + shell_quote(dir_ / "nope.toml") + " check");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find(dir_ / "nope.toml"), std::string::npos) << r.out;
}

TEST_F(CliTest, ListWithoutCatalogSaysWhatToDo) {
  auto r = run(cmd("list"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("no catalog yet"), std::string::npos) << r.out;
}

TEST_F(CliTest, ListAndShowReadTheCatalog) {
  const std::string id = seed();
  auto list = run(cmd("list"));
  EXPECT_EQ(list.status, 0) << list.out;
  EXPECT_NE(list.out.find(id), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("4F2A1B3C"), std::string::npos);
  EXPECT_EQ(list.out.find('\x1b'), std::string::npos) << "escape sequence reached the terminal";

  auto json = nlohmann::json::parse(run(cmd("list --json")).out);
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["id"], id);
  EXPECT_EQ(json[0]["files"], 1);
  EXPECT_EQ(json[0]["subject"], "Evil \x1b[2J subject");  // JSON carries it escaped, intact

  for (const std::string& key : {id, std::string("4F2A1B3C")}) {
    auto show = run(cmd("show " + key));
    EXPECT_EQ(show.status, 0) << show.out;
    EXPECT_NE(show.out.find("report.pdf"), std::string::npos) << show.out;
    EXPECT_NE(show.out.find("offloaded"), std::string::npos);
    EXPECT_EQ(show.out.find('\x1b'), std::string::npos);
  }
  auto detail = nlohmann::json::parse(run(cmd("show --json " + id)).out);
  EXPECT_EQ(detail["files"][0]["filename"], "report.pdf");
  EXPECT_EQ(detail["links"][0]["max_downloads"], 1);
  EXPECT_EQ(detail["events"][0]["kind"], "offloaded");

  auto missing = run(cmd("show nosuchid"));
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.out.find("attachgate list"), std::string::npos);
}

TEST_F(CliTest, ExportWritesThePlaintextPrivately) {
  const std::string id = seed();
  auto detail = nlohmann::json::parse(run(cmd("show --json " + id)).out);
  const std::string file_id = detail["files"][0]["id"];
  const std::string out = dir_ / "out.pdf";
  auto r = run(cmd("export " + file_id + " -o " + shell_quote(out)));
  ASSERT_EQ(r.status, 0) << r.out;
  std::ifstream in(out, std::ios::binary);
  std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got, "%PDF-1.4 pretend");
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "decrypted file readable by others";

  auto unknown = run(cmd("export nosuchfile -o " + shell_quote(dir_ / "x")));
  EXPECT_EQ(unknown.status, 1);
}

// --master-key-file credential:NAME reads the key systemd's LoadCredential=
// put in $CREDENTIALS_DIRECTORY; a key that is not the catalog's is refused
// with status 2 (start-up) and a message that names it and says what to do.
TEST_F(CliTest, ExportUsesTheCredentialAndRefusesAnotherKey) {
  const std::string id = seed();  // the key is state/master.key
  auto detail = nlohmann::json::parse(run(cmd("show --json " + id)).out);
  const std::string file_id = detail["files"][0]["id"];
  ASSERT_EQ(::mkdir((dir_ / "creds").c_str(), 0700), 0);
  ASSERT_EQ(::rename((dir_ / "state/master.key").c_str(), (dir_ / "creds/ag.key").c_str()), 0);
  const std::string out = dir_ / "out.pdf";
  auto r = run("CREDENTIALS_DIRECTORY=" + shell_quote(dir_ / "creds") + " " +
               cmd("--master-key-file credential:ag.key export " + file_id + " -o " +
                   shell_quote(out)));
  ASSERT_EQ(r.status, 0) << r.out;
  std::ifstream in(out, std::ios::binary);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()),
            "%PDF-1.4 pretend");

  write("other.key", std::string(32, 'o'));
  ASSERT_EQ(::chmod((dir_ / "other.key").c_str(), 0600), 0);
  auto wrong = run(cmd("--master-key-file " + shell_quote(dir_ / "other.key") + " export " +
                       file_id + " -o " + shell_quote(dir_ / "x")));
  EXPECT_EQ(wrong.status, 2) << wrong.out;
  EXPECT_NE(wrong.out.find("this master key is not the one"), std::string::npos) << wrong.out;
  auto missing = run(cmd("export " + file_id + " -o " + shell_quote(dir_ / "y")));
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.out.find("no master key there"), std::string::npos) << missing.out;
}

}  // namespace
}  // namespace attachgate
