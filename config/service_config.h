// config/service_config.h - the service settings in conf/attachgate.toml.
//
// A default-constructed ServiceConfig is the embedded default: it runs from a
// checkout with state under ./var, and equals the shipped conf/attachgate.toml.
// Loading reports every problem as `file:line: message`, unknown keys included,
// and yields a value only when there are none. Every limit is bounded on both
// sides, so later code may rely on it being > 0 and sane.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/problem.h"

namespace attachgate::config {

// Where notices to senders go: the local MTA, through libcurl.
struct SmtpRelay {
  std::string url = "smtp://127.0.0.1:25";  // smtp:// or smtps://
  std::string from = "attachgate@localhost";
  // [notify] inject: where recipient copies go, an MTA service that runs the
  // DKIM signer but not attachgate (contrib/postfix/master.cf); "" = url.
  std::string inject_url;
  const std::string& copies_url() const { return inject_url.empty() ? url : inject_url; }
  bool operator==(const SmtpRelay&) const = default;
};

// [webhooks]: where the notify role POSTs a JSON event per offload,
// delivery, open and download, signed with HMAC-SHA256 of the secret.
struct Webhooks {
  std::vector<std::string> urls;  // http:// or https://; empty: no webhooks
  std::string secret;             // at least 16 characters when urls is set
  std::int64_t max_queue = 10000;  // waiting deliveries kept; the oldest are dropped
  std::int64_t retry_first_seconds = 60;  // first retry pause, doubling up to 1 h
  bool operator==(const Webhooks&) const = default;
};

// [api]: keys for the API for programs (/api/v1/files) and its terms.
struct ApiSettings {
  std::vector<std::string> keys;  // "sha256:<64 hex>" of each key; empty: the API refuses all
  std::int64_t default_expiration_days = 7;  // when an upload names none
  std::int64_t max_expiration_days = 30;     // the most an upload may ask for
  int max_downloads = 100;                   // the most max_downloads an upload may ask for
  bool operator==(const ApiSettings&) const = default;
};

// Bounds on untrusted input, in bytes, counts and seconds.
struct Limits {
  std::uint64_t max_message_size = 256'000'000;       // [limits] max_message_size
  std::uint64_t spool_memory_threshold = 256 * 1024;  // body kept in memory up to this
  int max_mime_depth = 32;
  int max_mime_parts = 500;
  std::uint64_t max_header_bytes = 256 * 1024;      // one message's whole header block
  std::uint64_t max_line_length = 1024 * 1024;      // one line of a message
  int http_max_connections = 1024;                  // [http] max_connections
  int http_timeout_seconds = 30;                    // [http] timeout, per read and write
  std::uint64_t http_max_header_bytes = 16 * 1024;  // [http] max_request_header_size
  std::uint64_t api_max_upload = 1'000'000'000;     // [http] max_upload
  std::int64_t http_resume_grace_seconds = 3600;    // [http] resume_grace
  bool operator==(const Limits&) const = default;
};

struct ServiceConfig {
  std::string milter_socket =
      "unix:./var/milter.sock";                      // libmilter spec: unix:/path, inet:port@host
  std::string listen = "127.0.0.1:8025";             // host:port, [v6]:port
  std::string public_url = "http://127.0.0.1:8025";  // http(s)://, trailing '/' removed
  // [metrics] listen: GET /metrics is served here, never on `listen`; "": nowhere.
  std::string metrics_listen = "127.0.0.1:8027";
  // Relative directories are relative to the working directory, not to the
  // config file, so a checkout runs with `./var` wherever the config lives.
  std::string state_dir = "./var";
  // The master key: "" is <state_dir>/master.key (created on first start);
  // "credential:NAME" is a systemd credential (LoadCredential=NAME:...),
  // read from $CREDENTIALS_DIRECTORY; anything else is a file path.
  std::string master_key_file;
  std::string templates_dir = "./templates";
  std::int64_t event_retention_seconds = 90 * 86400;
  // [watch] postfix_log: Postfix's log for the delivery watcher; empty: no watcher.
  std::string postfix_log;
  // [blobs] url: "" is file:<state_dir>/blobs; else file:DIR or
  // s3://BUCKET/PREFIX?endpoint=...&region=... (util/blob_url.h).
  std::string blobs_url;
  // [blobs] credentials_file: the S3 key pair; "" reads AWS_ACCESS_KEY_ID and
  // AWS_SECRET_ACCESS_KEY. Never the keys themselves in the TOML.
  std::string blobs_credentials_file;
  // [catalog] url: "" is <state_dir>/catalog.db; else sqlite:PATH or
  // postgresql://USER@HOST:PORT/DB?sslmode=... (store/catalog_location.h).
  std::string catalog_url;
  // [catalog] password_file: the PostgreSQL password on its first line (mode
  // 0600); "" leaves it to libpq's PGPASSWORD / PGPASSFILE. Never in the URL.
  std::string catalog_password_file;
  SmtpRelay relay;
  Webhooks webhooks;
  ApiSettings api;
  Limits limits;
  std::string source = "(embedded defaults)";  // the file it was read from

  bool operator==(const ServiceConfig&) const = default;
};

// Command-line settings that take precedence over the file.
struct Overrides {
  std::optional<std::string> state_dir, master_key_file, milter_socket, listen, public_url,
      metrics_listen;
  std::optional<std::string> postfix_log;
  std::optional<std::string> relay;  // [notify] relay
};

Loaded<ServiceConfig> load_service_config(const std::string& path);
ServiceConfig apply(ServiceConfig config, const Overrides& overrides);
// The same checks the file gets, for values given on the command line; each
// Problem names the setting, with file "(command line)" and line 0.
std::vector<Problem> check_overrides(const Overrides& overrides);

}  // namespace attachgate::config
