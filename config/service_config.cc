// config/service_config.cc - reads and checks conf/attachgate.toml.
//
// Each key is read through a TableReader, which records wrong types and
// out-of-range values with their line; the checks below add what a type
// cannot say (URL schemes, host:port). Values land in the config only when
// they pass, and the config is returned only when nothing failed.
#include "config/service_config.h"

#include <string_view>

#include "config/toml_reader.h"
#include "util/blob_url.h"

namespace attachgate::config {
namespace {

using detail::TableReader;

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool is_port(std::string_view s) {
  return all_digits(s) && s.size() <= 5 && std::stoi(std::string(s)) >= 1 &&
         std::stoi(std::string(s)) <= 65535;
}

bool has_blank(std::string_view s) { return s.find_first_of(" \t") != std::string_view::npos; }

std::string quoted(std::string_view name, std::string_view value) {
  return std::string(name) + " \"" + std::string(value) + "\"";
}

// Each check returns why the value is wrong, or "" when it is fine.

std::string check_milter_socket(std::string_view name, std::string_view s) {
  const std::string_view usage = " must look like unix:/path/to/socket or inet:port@host";
  for (std::string_view prefix : {"unix:", "local:"})
    if (s.rfind(prefix, 0) == 0)
      return s.size() > prefix.size() ? "" : quoted(name, s) + std::string(usage);
  for (std::string_view prefix : {"inet:", "inet6:"}) {
    if (s.rfind(prefix, 0) != 0) continue;
    std::string_view rest = s.substr(prefix.size());
    std::string_view port = rest.substr(0, rest.find('@'));
    if (!is_port(port)) return quoted(name, s) + " has no valid port; write inet:port@host";
    return "";
  }
  return quoted(name, s) + std::string(usage);
}

std::string check_listen(std::string_view name, std::string_view s) {
  std::size_t colon = s.rfind(':');
  std::string_view host = colon == std::string_view::npos ? "" : s.substr(0, colon);
  std::string_view port = colon == std::string_view::npos ? "" : s.substr(colon + 1);
  bool v6 = host.size() > 2 && host.front() == '[' && host.back() == ']';
  bool host_ok = !host.empty() && !has_blank(host) &&
                 (v6 || host.find_first_of("[]:") == std::string_view::npos);
  if (!host_ok || !is_port(port))
    return quoted(name, s) + " must be host:port, e.g. 127.0.0.1:8025 or [::1]:8025";
  return "";
}

std::string check_public_url(std::string_view name, std::string_view s) {
  std::string_view rest;
  if (s.rfind("https://", 0) == 0)
    rest = s.substr(8);
  else if (s.rfind("http://", 0) == 0)
    rest = s.substr(7);
  else
    return quoted(name, s) + " must start with http:// or https://";
  if (rest.empty() || rest.front() == '/')
    return quoted(name, s) + " has no host; write e.g. https://files.example.org";
  if (has_blank(s) || s.find_first_of("?#") != std::string_view::npos)
    return quoted(name, s) + " must be a plain base URL without spaces, query or fragment";
  return "";
}

std::string check_master_key_file(std::string_view name, std::string_view s) {
  constexpr std::string_view kCredential = "credential:";
  if (s.rfind(kCredential, 0) != 0) return "";
  const std::string_view credential = s.substr(kCredential.size());
  if (credential.empty() || credential.find('/') != std::string_view::npos || credential == "." ||
      credential == "..")
    return quoted(name, s) + " must name one credential, e.g. credential:master.key";
  return "";
}

std::string check_blobs_url(std::string_view name, std::string_view s) {
  auto url = parse_blob_url(std::string(s));
  return url ? "" : std::string(name) + ": " + url.error().message;
}

std::string check_catalog_url(std::string_view name, std::string_view s) {
  const bool postgres = s.starts_with("postgresql://") || s.starts_with("postgres://");
  if (!postgres && !(s.starts_with("sqlite:") && s.size() > 7))
    return quoted(name, s) + " must be sqlite:PATH or postgresql://USER@HOST:PORT/DB, e.g."
                             " postgresql://attachgate@db.example.org/attachgate?sslmode=verify-full";
  if (postgres) {
    const std::string_view rest = s.substr(s.find("://") + 3);
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    const auto at = authority.rfind('@');
    if (at != std::string_view::npos && authority.substr(0, at).find(':') != std::string_view::npos)
      return std::string(name) + ": the URL holds a password; remove it and put it in"
                                 " [catalog] password_file (mode 0600) or PGPASSWORD";
  }
  return has_blank(s) ? quoted(name, s) + " must not contain spaces" : "";
}

std::string check_relay(std::string_view name, std::string_view s) {
  if ((s.rfind("smtp://", 0) == 0 && s.size() > 7) || (s.rfind("smtps://", 0) == 0 && s.size() > 8))
    return has_blank(s) ? quoted(name, s) + " must not contain spaces" : "";
  return quoted(name, s) + " must start with smtp:// or smtps://, e.g. smtp://127.0.0.1:25";
}

// The From address goes into generated headers, so it must be a bare address.
std::string check_from(std::string_view name, std::string_view s) {
  std::size_t at = s.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == s.size() || has_blank(s) ||
      s.find_first_of("<>,;\"") != std::string_view::npos)
    return quoted(name, s) + " must be a bare address such as attachgate@example.org";
  return "";
}

std::string without_trailing_slashes(std::string url) {
  while (url.size() > 1 && url.back() == '/') url.pop_back();
  return url;
}

using Check = std::string (*)(std::string_view, std::string_view);

void read_checked(TableReader& r, std::string_view key, Check check, std::string& field) {
  std::optional<std::string> s = r.text(key);
  if (!s) return;
  std::string why = check ? check(r.name(key), *s) : "";
  if (!why.empty())
    r.report(r.line(key), why);
  else
    field = *s;
}

template <class T, class U>
void set(T& field, const std::optional<U>& value) {
  if (value) field = static_cast<T>(*value);
}

void read_milter(TableReader& r, ServiceConfig& c) {
  read_checked(r, "socket", check_milter_socket, c.milter_socket);
}

void read_http(TableReader& r, ServiceConfig& c) {
  read_checked(r, "listen", check_listen, c.listen);
  read_checked(r, "public_url", check_public_url, c.public_url);
  c.public_url = without_trailing_slashes(c.public_url);
  set(c.limits.http_timeout_seconds, r.duration("timeout", "1s", "1h"));
  set(c.limits.http_max_connections, r.integer("max_connections", 1, 100000));
  set(c.limits.http_max_header_bytes, r.size("max_request_header_size", "1KiB", "1MiB"));
  set(c.limits.api_max_upload, r.size("max_upload", "1KB", "64GB"));
  set(c.limits.http_resume_grace_seconds, r.duration("resume_grace", "1m", "7d"));
}

void read_metrics(TableReader& r, ServiceConfig& c) {
  // "" is the documented "no metrics listener", which text() would refuse as empty.
  const toml::value* v = r.take("listen");
  if (v && v->is_string() && v->as_string().str.empty())
    c.metrics_listen.clear();
  else
    read_checked(r, "listen", check_listen, c.metrics_listen);
}

void read_notify(TableReader& r, ServiceConfig& c) {
  read_checked(r, "relay", check_relay, c.relay.url);
  read_checked(r, "from", check_from, c.relay.from);
  // "" is the documented "the relay, too", which text() would refuse as empty.
  const toml::value* inject = r.take("inject");
  if (inject && inject->is_string() && inject->as_string().str.empty())
    c.relay.inject_url.clear();
  else
    read_checked(r, "inject", check_relay, c.relay.inject_url);
}

// A receiver's URL; a query is allowed (some receivers take a key there).
std::string check_webhook_url(std::string_view s) {
  std::size_t scheme = s.rfind("https://", 0) == 0 ? 8 : s.rfind("http://", 0) == 0 ? 7 : 0;
  if (scheme == 0) return "must start with http:// or https://";
  if (s.size() == scheme || s[scheme] == '/') return "has no host";
  if (has_blank(s)) return "must not contain spaces";
  return "";
}

void read_webhooks(TableReader& r, ServiceConfig& c) {
  Webhooks& w = c.webhooks;
  set(w.urls, r.text_list("urls", true, check_webhook_url));
  // "" is the documented "no secret", which text() would refuse as empty.
  const toml::value* secret = r.take("secret");
  if (secret && secret->is_string() && secret->as_string().str.empty())
    w.secret.clear();
  else
    read_checked(r, "secret", nullptr, w.secret);
  set(w.max_queue, r.integer("max_queue", 1, 10'000'000));
  set(w.retry_first_seconds, r.duration("retry_first", "1s", "1h"));
  // Receivers check the signature; an unsigned or guessable one is no check.
  if (!w.urls.empty() && w.secret.size() < 16)
    r.report(r.line(r.has("secret") ? "secret" : "urls"),
             r.name("secret") + " must be at least 16 characters when " + r.name("urls") +
                 " is set (receivers check the signature with it)");
}

// What `attachgate api-key` prints: the key's SHA-256, never the key.
std::string check_api_key_hash(std::string_view s) {
  const bool ok = s.size() == 7 + 64 && s.rfind("sha256:", 0) == 0 &&
                  s.find_first_not_of("0123456789abcdef", 7) == std::string_view::npos;
  return ok ? "" : "must be \"sha256:\" and 64 lowercase hex digits, as `attachgate api-key` prints";
}

void read_api(TableReader& r, ServiceConfig& c) {
  ApiSettings& a = c.api;
  set(a.keys, r.text_list("keys", true, check_api_key_hash));
  set(a.max_expiration_days, r.integer("max_expiration_days", 1, 3650));
  set(a.default_expiration_days, r.integer("default_expiration_days", 1, 3650));
  set(a.max_downloads, r.integer("max_downloads", 1, 100000));
  if (a.default_expiration_days > a.max_expiration_days)
    r.report(r.line(r.has("default_expiration_days") ? "default_expiration_days" : "max_expiration_days"),
             r.name("default_expiration_days") + " (" + std::to_string(a.default_expiration_days) +
                 ") must not be over " + r.name("max_expiration_days") + " (" +
                 std::to_string(a.max_expiration_days) + ")");
}

void read_limits(TableReader& r, ServiceConfig& c) {
  Limits& l = c.limits;
  set(l.max_message_size, r.size("max_message_size", "1KB", "64GB"));
  set(l.spool_memory_threshold, r.size("spool_memory_threshold", "1KiB", "64MiB"));
  set(l.max_mime_depth, r.integer("max_mime_depth", 1, 256));
  set(l.max_mime_parts, r.integer("max_mime_parts", 1, 100000));
  set(l.max_header_bytes, r.size("max_header_size", "1KiB", "64MiB"));
  // RFC 5322 allows 998 characters plus CRLF; anything smaller breaks valid mail.
  set(l.max_line_length, r.size("max_line_length", "1KB", "64MiB"));
}

void read_watch(TableReader& r, ServiceConfig& c) {
  // "" is the documented "no watcher", which text() would refuse as empty.
  const toml::value* v = r.take("postfix_log");
  if (v && v->is_string() && v->as_string().str.empty())
    c.postfix_log.clear();
  else
    read_checked(r, "postfix_log", nullptr, c.postfix_log);
}

void read_blobs(TableReader& r, ServiceConfig& c) {
  read_checked(r, "url", check_blobs_url, c.blobs_url);
  read_checked(r, "credentials_file", nullptr, c.blobs_credentials_file);
}

void read_catalog(TableReader& r, ServiceConfig& c) {
  read_checked(r, "url", check_catalog_url, c.catalog_url);
  read_checked(r, "password_file", nullptr, c.catalog_password_file);
}

using Section = void (*)(TableReader&, ServiceConfig&);

void read_section(TableReader& top, std::string_view key, Section read, const std::string& path,
                  std::vector<Problem>& problems, ServiceConfig& c) {
  const toml::value* t = top.table(key);
  if (!t) return;
  TableReader r(*t, path, "[" + std::string(key) + "]", std::string(key) + ".", problems);
  read(r, c);
  r.finish();
}

}  // namespace

Loaded<ServiceConfig> load_service_config(const std::string& path) {
  Loaded<ServiceConfig> out;
  std::optional<toml::value> doc = detail::parse_toml_file(path, out.problems);
  if (!doc) return out;

  ServiceConfig c;
  c.source = path;
  TableReader top(*doc, path, "", "", out.problems);
  read_checked(top, "state_dir", nullptr, c.state_dir);
  read_checked(top, "templates_dir", nullptr, c.templates_dir);
  read_checked(top, "master_key_file", check_master_key_file, c.master_key_file);
  set(c.event_retention_seconds, top.duration("event_retention", "1h", "3650d"));
  read_section(top, "milter", read_milter, path, out.problems, c);
  read_section(top, "http", read_http, path, out.problems, c);
  read_section(top, "metrics", read_metrics, path, out.problems, c);
  read_section(top, "notify", read_notify, path, out.problems, c);
  read_section(top, "webhooks", read_webhooks, path, out.problems, c);
  read_section(top, "api", read_api, path, out.problems, c);
  read_section(top, "limits", read_limits, path, out.problems, c);
  read_section(top, "watch", read_watch, path, out.problems, c);
  read_section(top, "blobs", read_blobs, path, out.problems, c);
  read_section(top, "catalog", read_catalog, path, out.problems, c);
  top.finish();

  detail::sort_problems(out.problems);
  if (out.problems.empty()) out.value = std::move(c);
  return out;
}

ServiceConfig apply(ServiceConfig config, const Overrides& overrides) {
  if (overrides.state_dir) config.state_dir = *overrides.state_dir;
  if (overrides.master_key_file) config.master_key_file = *overrides.master_key_file;
  if (overrides.milter_socket) config.milter_socket = *overrides.milter_socket;
  if (overrides.listen) config.listen = *overrides.listen;
  if (overrides.public_url) config.public_url = without_trailing_slashes(*overrides.public_url);
  if (overrides.metrics_listen) config.metrics_listen = *overrides.metrics_listen;
  if (overrides.postfix_log) config.postfix_log = *overrides.postfix_log;
  if (overrides.relay) config.relay.url = *overrides.relay;
  return config;
}

std::vector<Problem> check_overrides(const Overrides& overrides) {
  std::vector<Problem> problems;
  auto check = [&](const std::optional<std::string>& value, std::string_view name, Check fn) {
    if (!value) return;
    std::string why;
    if (value->empty())
      why = std::string(name) + " must not be empty";
    else if (fn)
      why = fn(name, *value);
    if (!why.empty()) problems.push_back({"(command line)", 0, why});
  };
  check(overrides.state_dir, "state_dir", nullptr);
  check(overrides.master_key_file, "master_key_file", check_master_key_file);
  check(overrides.milter_socket, "milter_socket", check_milter_socket);
  check(overrides.listen, "listen", check_listen);
  check(overrides.public_url, "public_url", check_public_url);
  check(overrides.metrics_listen, "metrics_listen", check_listen);
  check(overrides.postfix_log, "postfix_log", nullptr);
  check(overrides.relay, "relay", check_relay);
  return problems;
}

}  // namespace attachgate::config
