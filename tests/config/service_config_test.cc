// Tests config/service_config.cc: defaults, the shipped file, overrides and bad values.
//
// Bad values are checked as exact `file:line: message` lines, since that is
// what an admin sees from `attachgate check`. Files live in a fresh temp dir.
#include "config/service_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace attachgate::config {
namespace {

std::string source_dir() {
  const char* env = std::getenv("ATTACHGATE_SOURCE_DIR");
  return env && *env ? env : ATTACHGATE_SOURCE_DIR_DEFAULT;
}

class ServiceConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "attachgate-service-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/attachgate.toml";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Loaded<ServiceConfig> load(const std::string& toml) {
    std::ofstream(path_, std::ios::binary) << toml;
    return load_service_config(path_);
  }

  // Problems with the temp path shown as "FILE".
  std::vector<std::string> problems(const std::string& toml) {
    Loaded<ServiceConfig> loaded = load(toml);
    EXPECT_EQ(loaded.value.has_value(), loaded.problems.empty());
    std::vector<std::string> out;
    for (const Problem& p : loaded.problems)
      out.push_back("FILE" + p.to_string().substr(path_.size()));
    return out;
  }

  std::string dir_, path_;
};

using Lines = std::vector<std::string>;

TEST(ServiceConfigDefaults, RunFromACheckout) {
  ServiceConfig c;
  EXPECT_EQ(c.milter_socket, "unix:./var/milter.sock");
  EXPECT_EQ(c.listen, "127.0.0.1:8025");
  EXPECT_EQ(c.public_url, "http://127.0.0.1:8025");
  EXPECT_EQ(c.metrics_listen, "127.0.0.1:8027");
  EXPECT_EQ(c.state_dir, "./var");
  EXPECT_EQ(c.templates_dir, "./templates");
  EXPECT_EQ(c.event_retention_seconds, 90 * 86400);
  EXPECT_EQ(c.relay.url, "smtp://127.0.0.1:25");
  EXPECT_EQ(c.relay.from, "attachgate@localhost");
  EXPECT_EQ(c.limits.max_message_size, 256'000'000u);
  EXPECT_EQ(c.limits.spool_memory_threshold, 262144u);
  EXPECT_EQ(c.limits.max_mime_depth, 32);
  EXPECT_EQ(c.limits.max_mime_parts, 500);
  EXPECT_EQ(c.limits.max_header_bytes, 262144u);
  EXPECT_EQ(c.limits.max_line_length, 1048576u);
  EXPECT_EQ(c.limits.http_max_connections, 1024);
  EXPECT_EQ(c.limits.http_timeout_seconds, 30);
  EXPECT_EQ(c.limits.http_max_header_bytes, 16384u);
  EXPECT_EQ(c.limits.http_resume_grace_seconds, 3600);
  EXPECT_EQ(c.limits.api_max_upload, 1'000'000'000u);
  EXPECT_EQ(c.source, "(embedded defaults)");
}

TEST(ServiceConfigDefaults, ShippedFileEqualsTheDefaults) {
  std::string path = source_dir() + "/conf/attachgate.toml";
  Loaded<ServiceConfig> loaded = load_service_config(path);
  ASSERT_TRUE(loaded.ok()) << format_problems(loaded.problems);
  ServiceConfig expected;
  expected.source = path;
  EXPECT_EQ(*loaded.value, expected);
}

TEST_F(ServiceConfigTest, EmptyFileGivesTheDefaults) {
  Loaded<ServiceConfig> loaded = load("# nothing set\n");
  ASSERT_TRUE(loaded.ok()) << format_problems(loaded.problems);
  ServiceConfig expected;
  expected.source = path_;
  EXPECT_EQ(*loaded.value, expected);
}

TEST_F(ServiceConfigTest, EveryKeyIsRead) {
  Loaded<ServiceConfig> loaded = load(
      "state_dir = \"/var/lib/attachgate\"\n"
      "master_key_file = \"credential:master.key\"\n"
      "templates_dir = \"/usr/share/attachgate/templates\"\n"
      "event_retention = \"30d\"\n"
      "[milter]\nsocket = \"inet:8891@127.0.0.1\"\n"
      "[http]\nlisten = \"[::1]:8443\"\npublic_url = \"https://files.example.org/ag//\"\n"
      "timeout = \"1m\"\nmax_connections = 64\nmax_request_header_size = \"8KiB\"\n"
      "max_upload = \"2GB\"\nresume_grace = \"10m\"\n"
      "[notify]\nrelay = \"smtps://mail.example.org:465\"\nfrom = \"noreply@example.org\"\n"
      "[limits]\nmax_message_size = \"50MB\"\nspool_memory_threshold = \"1MiB\"\n"
      "max_mime_depth = 10\nmax_mime_parts = 100\nmax_header_size = \"64KiB\"\n"
      "max_line_length = \"10KB\"\n");
  ASSERT_TRUE(loaded.ok()) << format_problems(loaded.problems);
  const ServiceConfig& c = *loaded.value;
  EXPECT_EQ(c.state_dir, "/var/lib/attachgate");
  EXPECT_EQ(c.master_key_file, "credential:master.key");
  EXPECT_EQ(c.templates_dir, "/usr/share/attachgate/templates");
  EXPECT_EQ(c.event_retention_seconds, 30 * 86400);
  EXPECT_EQ(c.milter_socket, "inet:8891@127.0.0.1");
  EXPECT_EQ(c.listen, "[::1]:8443");
  EXPECT_EQ(c.public_url, "https://files.example.org/ag");
  EXPECT_EQ(c.limits.http_timeout_seconds, 60);
  EXPECT_EQ(c.limits.http_max_connections, 64);
  EXPECT_EQ(c.limits.http_max_header_bytes, 8192u);
  EXPECT_EQ(c.limits.api_max_upload, 2'000'000'000u);
  EXPECT_EQ(c.limits.http_resume_grace_seconds, 600);
  EXPECT_EQ(c.relay.url, "smtps://mail.example.org:465");
  EXPECT_EQ(c.relay.from, "noreply@example.org");
  EXPECT_EQ(c.limits.max_message_size, 50'000'000u);
  EXPECT_EQ(c.limits.spool_memory_threshold, 1048576u);
  EXPECT_EQ(c.limits.max_mime_depth, 10);
  EXPECT_EQ(c.limits.max_mime_parts, 100);
  EXPECT_EQ(c.limits.max_header_bytes, 65536u);
  EXPECT_EQ(c.limits.max_line_length, 10000u);
}

TEST_F(ServiceConfigTest, BadValuesAreReportedWithTheirLines) {
  EXPECT_EQ(
      problems("state_dir = \"\"\n"                          // 1
               "event_retention = 90\n"                      // 2
               "[milter]\n"                                  // 3
               "socket = \"/run/milter.sock\"\n"             // 4
               "[http]\n"                                    // 5
               "listen = \"localhost\"\n"                    // 6
               "public_url = \"ftp://files.example.org\"\n"  // 7
               "timeout = \"30\"\n"                          // 8
               "max_connections = 0\n"                       // 9
               "[notify]\n"                                  // 10
               "relay = \"http://mail\"\n"                   // 11
               "from = \"Attachgate <ag@example.org>\"\n"    // 12
               "[limits]\n"                                  // 13
               "max_message_size = \"10XB\"\n"               // 14
               "max_mime_depth = 1000\n"                     // 15
               "spool_memory_threshold = \"0\"\n"),          // 16
      (Lines{
          "FILE:1: state_dir must not be empty",
          "FILE:2: event_retention must be a quoted duration such as \"7d\", not an integer",
          "FILE:4: milter.socket \"/run/milter.sock\" must look like unix:/path/to/socket or "
          "inet:port@host",
          "FILE:6: http.listen \"localhost\" must be host:port, e.g. 127.0.0.1:8025 or [::1]:8025",
          "FILE:7: http.public_url \"ftp://files.example.org\" must start with http:// or https://",
          "FILE:8: http.timeout: duration '30' must be a whole number followed by s, m, h, d or "
          "w (e.g. 7d)",
          "FILE:9: http.max_connections must be between 1 and 100000, not 0",
          "FILE:11: notify.relay \"http://mail\" must start with smtp:// or smtps://, e.g. "
          "smtp://127.0.0.1:25",
          "FILE:12: notify.from \"Attachgate <ag@example.org>\" must be a bare address such as "
          "attachgate@example.org",
          "FILE:14: limits.max_message_size: size '10XB' has unknown unit 'XB' (use B, KB, MB, "
          "GB, KiB, MiB or GiB)",
          "FILE:15: limits.max_mime_depth must be between 1 and 256, not 1000",
          "FILE:16: limits.spool_memory_threshold must be between 1KiB and 64MiB, not \"0\"",
      }));
}

TEST_F(ServiceConfigTest, UnknownKeysAndTables) {
  EXPECT_EQ(problems("[http]\nlisten = \"127.0.0.1:80\"\npublic-url = \"https://x.org\"\n"
                     "[htpp]\ntimeout = \"5s\"\n"),
            (Lines{"FILE:3: unknown key \"public-url\" in [http]; did you mean \"public_url\"?",
                   "FILE:4: unknown table [htpp]; did you mean [http]?"}));
  EXPECT_EQ(problems("[limits]\nmax_bananas = 3\n"),
            Lines{"FILE:2: unknown key \"max_bananas\" in [limits]; expected one of "
                  "max_message_size, spool_memory_threshold, max_mime_depth, max_mime_parts, "
                  "max_header_size, max_line_length"});
  EXPECT_EQ(problems("milter = \"unix:/x\"\n"),
            Lines{"FILE:1: milter must be a table written as [milter], not a string"});
}

TEST_F(ServiceConfigTest, SyntaxErrorHasItsLine) {
  EXPECT_EQ(problems("[http]\nlisten = \"127.0.0.1:8025\n"),
            Lines{"FILE:2: TOML syntax error: the next token is not a valid string (here)"});
}

TEST_F(ServiceConfigTest, MissingFile) {
  std::string path = dir_ + "/absent.toml";
  Loaded<ServiceConfig> loaded = load_service_config(path);
  EXPECT_FALSE(loaded.ok());
  EXPECT_FALSE(loaded.value.has_value());
  EXPECT_EQ(format_problems(loaded.problems), path + ": cannot open: No such file or directory");
}

TEST(ServiceConfigOverrides, ReplaceOnlyWhatIsGiven) {
  Overrides o;
  o.state_dir = "/srv/ag";
  o.public_url = "https://files.example.org/";
  ServiceConfig c = apply(ServiceConfig{}, o);
  EXPECT_EQ(c.state_dir, "/srv/ag");
  EXPECT_EQ(c.public_url, "https://files.example.org");
  EXPECT_EQ(c.listen, ServiceConfig{}.listen);
  EXPECT_EQ(c.milter_socket, ServiceConfig{}.milter_socket);
  o.listen = "0.0.0.0:80";
  o.milter_socket = "inet:8891@localhost";
  c = apply(c, o);
  EXPECT_EQ(c.listen, "0.0.0.0:80");
  EXPECT_EQ(c.milter_socket, "inet:8891@localhost");
  EXPECT_TRUE(check_overrides(o).empty());
}

// Unset, the key is state_dir/master.key (store/keys.h); a credential must
// be named, as one path component.
TEST_F(ServiceConfigTest, MasterKeyFileIsAPathOrOneCredential) {
  EXPECT_EQ(ServiceConfig{}.master_key_file, "");
  auto file = load("master_key_file = \"/etc/attachgate/master.key\"\n");
  ASSERT_TRUE(file.ok()) << format_problems(file.problems);
  EXPECT_EQ(file.value->master_key_file, "/etc/attachgate/master.key");
  EXPECT_EQ(problems("master_key_file = \"credential:../k\"\n"),
            (Lines{"FILE:1: master_key_file \"credential:../k\" must name one credential, e.g. "
                   "credential:master.key"}));
  Overrides o;
  o.master_key_file = "credential:";
  ASSERT_EQ(check_overrides(o).size(), 1u);
  o.master_key_file = "credential:ag.key";
  EXPECT_TRUE(check_overrides(o).empty());
  EXPECT_EQ(apply(ServiceConfig{}, o).master_key_file, "credential:ag.key");
}

TEST(ServiceConfigOverrides, AreCheckedLikeTheFile) {
  Overrides o;
  o.state_dir = "";
  o.listen = "8025";
  o.public_url = "files.example.org";
  o.milter_socket = "inet:port@host";
  std::vector<std::string> lines;
  for (const Problem& p : check_overrides(o)) lines.push_back(p.to_string());
  EXPECT_EQ(
      lines,
      (std::vector<std::string>{
          "(command line): state_dir must not be empty",
          "(command line): milter_socket \"inet:port@host\" has no valid port; write "
          "inet:port@host",
          "(command line): listen \"8025\" must be host:port, e.g. 127.0.0.1:8025 or [::1]:8025",
          "(command line): public_url \"files.example.org\" must start with http:// or https://",
      }));
}

// /metrics has its own listener: loopback by default, "" for none.
TEST_F(ServiceConfigTest, MetricsListen) {
  Loaded<ServiceConfig> loaded = load("[metrics]\nlisten = \"[::1]:9100\"\n");
  ASSERT_TRUE(loaded.ok()) << format_problems(loaded.problems);
  EXPECT_EQ(loaded.value->metrics_listen, "[::1]:9100");
  loaded = load("[metrics]\nlisten = \"\"\n");
  ASSERT_TRUE(loaded.ok()) << format_problems(loaded.problems);
  EXPECT_EQ(loaded.value->metrics_listen, "");
  loaded = load("[metrics]\nlisten = \"9100\"\n");
  EXPECT_EQ(format_problems(loaded.problems),
            path_ + ":2: metrics.listen \"9100\" must be host:port, e.g. 127.0.0.1:8025 or [::1]:8025");
  Overrides o;
  o.metrics_listen = "127.0.0.1:18299";
  EXPECT_EQ(apply(ServiceConfig{}, o).metrics_listen, "127.0.0.1:18299");
  EXPECT_TRUE(check_overrides(o).empty());
}

// The delivery watcher's log: off by default, set by [watch] or the flag.
TEST_F(ServiceConfigTest, WatchPostfixLog) {
  EXPECT_EQ(ServiceConfig{}.postfix_log, "");
  Loaded<ServiceConfig> loaded = load("[watch]\npostfix_log = \"/var/log/mail.log\"\n");
  ASSERT_TRUE(loaded.value.has_value());
  EXPECT_EQ(loaded.value->postfix_log, "/var/log/mail.log");
  EXPECT_EQ(problems("[watch]\npostfix_log = 3\nfollow = true\n").size(), 2u);
  Overrides o;
  o.postfix_log = "/srv/postfix/maillog";
  EXPECT_EQ(apply(ServiceConfig{}, o).postfix_log, "/srv/postfix/maillog");
}

// [api]: no keys by default; keys only as "sha256:" + 64 hex digits (the
// hash `attachgate api-key` prints), so a key in clear is refused.
TEST_F(ServiceConfigTest, Api) {
  EXPECT_TRUE(ServiceConfig{}.api.keys.empty());
  const std::string hash = "sha256:" + std::string(64, 'a');
  Loaded<ServiceConfig> loaded =
      load("[api]\nkeys = [\"" + hash + "\"]\ndefault_expiration_days = 2\nmax_expiration_days = 9\n"
           "max_downloads = 5\n");
  ASSERT_TRUE(loaded.ok()) << format_problems(loaded.problems);
  EXPECT_EQ(loaded.value->api.keys, std::vector<std::string>{hash});
  EXPECT_EQ(loaded.value->api.default_expiration_days, 2);
  EXPECT_EQ(loaded.value->api.max_expiration_days, 9);
  EXPECT_EQ(loaded.value->api.max_downloads, 5);
  EXPECT_EQ(problems("[api]\n"                                  // 1
                     "keys = [\"ag_clear-key\"]\n"               // 2
                     "default_expiration_days = 40\n"           // 3
                     "max_downloads = 0\n"),                     // 4
            (Lines{"FILE:2: api.keys entry \"ag_clear-key\" must be \"sha256:\" and 64 lowercase hex "
                   "digits, as `attachgate api-key` prints",
                   "FILE:3: api.default_expiration_days (40) must not be over api.max_expiration_days (30)",
                   "FILE:4: api.max_downloads must be between 1 and 100000, not 0"}));
}

// [webhooks]: off by default; URLs http(s) only; a secret of 16+ characters
// whenever there is a URL.
TEST_F(ServiceConfigTest, Webhooks) {
  EXPECT_TRUE(ServiceConfig{}.webhooks.urls.empty());
  EXPECT_EQ(ServiceConfig{}.webhooks.max_queue, 10000);
  EXPECT_EQ(ServiceConfig{}.webhooks.retry_first_seconds, 60);
  Loaded<ServiceConfig> loaded = load(
      "[webhooks]\nurls = [\"https://hooks.example.org/ag\", \"http://127.0.0.1:9000/in?k=1\"]\n"
      "secret = \"0123456789abcdef\"\nmax_queue = 50\nretry_first = \"1s\"\n");
  ASSERT_TRUE(loaded.ok()) << format_problems(loaded.problems);
  const Webhooks& w = loaded.value->webhooks;
  EXPECT_EQ(w.urls, (std::vector<std::string>{"https://hooks.example.org/ag",
                                              "http://127.0.0.1:9000/in?k=1"}));
  EXPECT_EQ(w.secret, "0123456789abcdef");
  EXPECT_EQ(w.max_queue, 50);
  EXPECT_EQ(w.retry_first_seconds, 1);

  EXPECT_EQ(problems("[webhooks]\n"                                   // 1
                     "urls = [\"hooks.example.org/ag\", \"ftp://x\"]\n"  // 2
                     "secret = \"0123456789abcdef\"\n"                // 3
                     "max_queue = 0\n"                                 // 4
                     "retry_first = \"2h\"\n"),                        // 5
            (Lines{"FILE:2: webhooks.urls entry \"ftp://x\" must start with http:// or https://",
                   "FILE:2: webhooks.urls entry \"hooks.example.org/ag\" must start with "
                   "http:// or https://",
                   "FILE:4: webhooks.max_queue must be between 1 and 10000000, not 0",
                   "FILE:5: webhooks.retry_first must be between 1s and 1h, not \"2h\""}));
  EXPECT_EQ(problems("[webhooks]\nurls = [\"https://x.org/h\"]\n"),
            Lines{"FILE:2: webhooks.secret must be at least 16 characters when webhooks.urls is "
                  "set (receivers check the signature with it)"});
  EXPECT_EQ(problems("[webhooks]\nurls = [\"https://x.org/h\"]\nsecret = \"short\"\n"),
            Lines{"FILE:3: webhooks.secret must be at least 16 characters when webhooks.urls is "
                  "set (receivers check the signature with it)"});
  EXPECT_EQ(problems("[webhooks]\nurls = [\"https://x.org/h\"]\nsecret = \"\"\n"),
            Lines{"FILE:3: webhooks.secret must be at least 16 characters when webhooks.urls is "
                  "set (receivers check the signature with it)"});
}

// [blobs]: local files under state_dir unless url says otherwise; a bad url
// is refused with its line, and no key in the TOML holds a secret.
TEST_F(ServiceConfigTest, Blobs) {
  EXPECT_EQ(ServiceConfig{}.blobs_url, "");
  EXPECT_EQ(ServiceConfig{}.blobs_credentials_file, "");
  Loaded<ServiceConfig> loaded = load(
      "[blobs]\n"
      "url = \"s3://ag-blobs/node1?endpoint=https://s3.example.org&region=eu-west-1\"\n"
      "credentials_file = \"/etc/attachgate/s3.credentials\"\n");
  ASSERT_TRUE(loaded.ok()) << format_problems(loaded.problems);
  EXPECT_EQ(loaded.value->blobs_url, "s3://ag-blobs/node1?endpoint=https://s3.example.org&region=eu-west-1");
  EXPECT_EQ(loaded.value->blobs_credentials_file, "/etc/attachgate/s3.credentials");
  EXPECT_TRUE(load("[blobs]\nurl = \"file:/srv/blobs\"\n").ok());

  const Lines bad = problems("[blobs]\nurl = \"s3://ag-blobs/node1\"\nsecret_key = \"x\"\n");
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad[0].rfind("FILE:2: blobs.url: \"s3://ag-blobs/node1\": endpoint=http(s)://host[:port] "
                         "is required", 0), 0u) << bad[0];
  EXPECT_NE(bad[1].find("secret_key"), std::string::npos) << bad[1];
}

// [catalog]: the SQLite file under state_dir unless url says otherwise; a
// PostgreSQL URL with a password in it is refused, as is any other scheme.
TEST_F(ServiceConfigTest, Catalog) {
  EXPECT_EQ(ServiceConfig{}.catalog_url, "");
  EXPECT_EQ(ServiceConfig{}.catalog_password_file, "");
  Loaded<ServiceConfig> loaded = load(
      "[catalog]\n"
      "url = \"postgresql://attachgate@db.example.org:5432/attachgate?sslmode=verify-full\"\n"
      "password_file = \"/etc/attachgate/catalog.password\"\n");
  ASSERT_TRUE(loaded.ok()) << format_problems(loaded.problems);
  EXPECT_EQ(loaded.value->catalog_url,
            "postgresql://attachgate@db.example.org:5432/attachgate?sslmode=verify-full");
  EXPECT_EQ(loaded.value->catalog_password_file, "/etc/attachgate/catalog.password");
  EXPECT_TRUE(load("[catalog]\nurl = \"sqlite:/srv/catalog.db\"\n").ok());

  const Lines password = problems("[catalog]\nurl = \"postgresql://ag:hunter2@db/ag\"\n");
  ASSERT_EQ(password.size(), 1u);
  EXPECT_EQ(password[0].rfind("FILE:2: catalog.url: the URL holds a password", 0), 0u) << password[0];
  EXPECT_EQ(password[0].find("hunter2"), std::string::npos) << "the error repeats the password";
  const Lines scheme = problems("[catalog]\nurl = \"mysql://db/ag\"\npassword = \"x\"\n");
  ASSERT_EQ(scheme.size(), 2u);
  EXPECT_NE(scheme[0].find("must be sqlite:PATH or postgresql://"), std::string::npos) << scheme[0];
  EXPECT_NE(scheme[1].find("password"), std::string::npos) << scheme[1];
}

}  // namespace
}  // namespace attachgate::config
