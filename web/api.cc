// web/api.cc - see api.h: keys, routing, terms, and the read and revoke
// routes. The upload sinks are in api_upload.cc.
#include "web/api.h"

#include <sodium.h>

#include <charconv>

#include <nlohmann/json.hpp>

#include "store/secrets.h"
#include "util/filename.h"
#include "util/log.h"
#include "util/text.h"
#include "util/units.h"
#include "web/content_headers.h"
#include "web/form.h"
#include "web/handler_internal.h"
#include "web/multipart.h"

namespace attachgate::web {
namespace {

using nlohmann::json;

constexpr std::string_view kFiles = "/api/v1/files";
constexpr std::size_t kMaxIdBytes = 64;

const char* reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

Response json_response(int status, const json& body) {
  Response r;
  r.status = status;
  r.headers = security_headers();
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return r;
}

bool is_public_id(std::string_view s) { return s.size() <= kMaxIdBytes && is_lower_hex(s); }

Result<std::int64_t> whole_number(std::string_view name, std::string_view text, std::int64_t low,
                                  std::int64_t high) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || v < low || v > high)
    return make_error(std::string(name) + " must be a whole number from " + std::to_string(low) +
                      " to " + std::to_string(high));
  return v;
}

json event_json(const store::EventRecord& e) {
  return {{"kind", to_string(e.kind)}, {"at", format_iso_time(e.at)},
          {"recipient", e.recipient},  {"remote_addr", e.remote_addr},
          {"user_agent", e.user_agent}, {"detail", e.detail}};
}

// "active", "expired", "revoked", "used_up": one word for scripts.
std::string status_name(store::LinkState state) {
  std::string s(to_string(state));
  for (char& c : s)
    if (c == ' ') c = '_';
  return s;
}

}  // namespace

std::string api_key_hash(std::string_view key) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return std::string("sha256:") + hex;
}

Response api_error(int status, std::string message) {
  return json_response(status, {{"status", status}, {"error", reason(status)}, {"message", message}});
}

Api::Api(store::StoreFor<store::WebCatalog> store, ApiConfig config, Clock clock)
    : store_(store), config_(std::move(config)), clock_(std::move(clock)) {}

std::optional<std::string> Api::authenticate(const Request& head) const {
  if (head.api_key.empty() || head.api_key.size() > 256) return std::nullopt;
  const std::string given = api_key_hash(head.api_key);
  std::optional<std::string> label;
  // Every configured hash is compared, in constant time, whatever matches.
  for (const std::string& h : config_.key_hashes)
    if (h.size() == given.size() && sodium_memcmp(h.data(), given.data(), h.size()) == 0)
      label = "api:" + h.substr(7, 12);
  return label;
}

Admission Api::admit(const Request& head, std::optional<std::uint64_t> content_length) {
  Admission a;
  auto answer = [&a](Response r) {
    a.answer = std::move(r);
    return std::move(a);
  };
  std::optional<std::string> key = authenticate(head);
  if (!key) {
    Response r = api_error(401, config_.key_hashes.empty()
                                    ? "this server has no API keys configured ([api] keys)"
                                    : "send a valid API key in the X-API-Key header");
    r.headers.emplace_back("WWW-Authenticate", "X-API-Key");
    return answer(std::move(r));
  }
  std::string_view path = head.target;
  std::string_view query;
  if (auto q = path.find('?'); q != std::string_view::npos) {
    query = path.substr(q + 1);
    path = path.substr(0, q);
  }
  auto not_allowed = [&](const char* methods) {
    Response r = api_error(405, std::string("this address takes ") + methods);
    r.headers.emplace_back("Allow", methods);
    return answer(std::move(r));
  };
  const std::string& m = head.method;
  if (path == kFiles) {
    if (m != "POST") return not_allowed("POST");
    if (content_length && *content_length > config_.max_upload + kFormOverhead)
      return answer(api_error(413, "the upload is over the limit of " + format_size(config_.max_upload)));
    auto boundary = form_data_boundary(head.content_type);
    if (!boundary) return answer(api_error(415, boundary.error().message + " (or use PUT with a raw body)"));
    a.upload = multipart_upload(*this, *key, *boundary);
    return a;
  }
  auto tail = route_tail(path, std::string(kFiles) + "/");
  if (!tail) return answer(api_error(404, "no such API address; files are under /api/v1/files"));
  if (m == "GET" || m == "HEAD") return answer(show(*key, *tail));
  if (m == "DELETE") return answer(revoke(*key, *tail));
  if (m != "PUT") return not_allowed("GET, HEAD, PUT, DELETE");
  // PUT /api/v1/files/{name}: the name is the file's, the terms are the query's.
  if (content_length && *content_length > config_.max_upload)
    return answer(api_error(413, "the upload is over the limit of " + format_size(config_.max_upload)));
  auto name = percent_decode(*tail, false);
  if (!name) return answer(api_error(422, "the file name in the address has a bad % escape"));
  auto form = parse_form(query);
  if (!form) return answer(api_error(422, form.error().message));
  std::vector<Field> fields;
  for (const auto& [k, v] : form->fields) fields.push_back({k, v});
  auto t = terms(fields);
  if (!t) return answer(api_error(422, t.error().message));
  a.upload = raw_upload(*this, *key, *name, head.content_type, *t);
  return a;
}

Result<UploadTerms> Api::terms(const std::vector<Field>& fields) const {
  UploadTerms t;
  t.expiration_days = config_.default_expiration_days;
  for (const Field& f : fields) {
    if (f.name == "expiration_days") {
      auto v = whole_number(f.name, f.value, 1, config_.max_expiration_days);
      if (!v) return v.error();
      t.expiration_days = *v;
    } else if (f.name == "max_downloads") {
      auto v = whole_number(f.name, f.value, 1, config_.max_downloads);
      if (!v) return v.error();
      t.max_downloads = static_cast<int>(*v);
    } else if (f.name == "access_code") {
      if (f.value.size() < 6 || f.value.size() > 128)
        return make_error("access_code must be 6 to 128 characters");
      for (unsigned char c : f.value)
        if (c < 0x21 || c > 0x7e) return make_error("access_code must be printable ASCII without spaces");
      t.access_code = std::string(f.value);
    } else {
      return make_error("unknown field '" + clean_display_text(f.name, 64) +
                        "'; the fields are file, expiration_days, max_downloads and access_code");
    }
  }
  return t;
}

Response Api::publish(const std::string& key_label, const std::string& filename,
                      const std::string& content_type, const store::BlobInfo& blob,
                      const UploadTerms& terms) {
  store::PendingBlobs pending(store_.blobs);
  pending.add(blob.id);
  store::Offload o;
  o.now = clock_();
  o.message.sender = key_label;
  o.message.subject = filename;
  o.message.outcome = store::MessageOutcome::uploaded;
  o.files.push_back({filename, content_type, blob});
  const std::string token = store::new_token();
  store::NewLink link;
  link.token_hash = store_.tokens.hash(token);
  link.pixel_id = store::new_public_id(16);
  link.expires_at = o.now + terms.expiration_days * 86400;
  link.max_downloads = terms.max_downloads;
  link.track_opens = false;  // an API link is not in a mail with a pixel
  if (terms.access_code) {
    auto hash = store::hash_access_code(*terms.access_code);
    if (!hash) return api_error(503, "could not protect the access code: " + hash.error().message);
    link.code_hash = *hash;
  }
  o.links.push_back(link);
  auto ids = store_.catalog.record_offload(o);
  if (!ids) {
    log_warn("api upload by " + key_label + ": " + ids.error().message);
    return api_error(503, "the file could not be recorded; try again later");
  }
  pending.keep();
  const std::string& id = ids->file_public_ids.at(0);
  log_info("api upload by " + key_label + ": file " + id + " (" + format_size(blob.size) +
           "), link expires " + format_date(link.expires_at));
  Response r = json_response(201, {{"id", id},
                                   {"download_url", config_.public_url + "/d/" + token},
                                   {"expires_at", format_iso_time(link.expires_at)},
                                   {"max_downloads", link.max_downloads},
                                   {"access_code_required", link.code_hash.has_value()},
                                   {"filename", filename},
                                   {"size", blob.size},
                                   {"sha256", blob.sha256}});
  r.headers.emplace_back("Location", config_.public_url + std::string(kFiles) + "/" + id);
  return r;
}

Result<std::optional<store::MessageDetail>> Api::owned(const std::string& key_label,
                                                       std::string_view id) {
  if (!is_public_id(id)) return std::optional<store::MessageDetail>{};
  auto file = store_.catalog.find_file(std::string(id));
  if (!file) return file.error();
  if (!*file) return std::optional<store::MessageDetail>{};
  auto message = store_.catalog.find_message((*file)->message_id);
  if (!message) return message.error();
  // Another key's file, or a file from mail, is "not found" to this key.
  // (The outcome tells uploads from mail: a mail's sender could be "api:...".)
  if (!*message || (*message)->outcome != store::MessageOutcome::uploaded || (*message)->sender != key_label)
    return std::optional<store::MessageDetail>{};
  return store_.catalog.show_message((*message)->public_id);
}

Response Api::show(const std::string& key_label, std::string_view id) {
  auto detail = owned(key_label, id);
  if (!detail) {
    log_warn("api read: " + detail.error().message);
    return api_error(503, "the catalog is not available; try again later");
  }
  if (!*detail || (*detail)->files.empty() || (*detail)->links.empty())
    return api_error(404, "no file with this id for this API key");
  const store::MessageDetail& d = **detail;
  const store::FileRecord& f = d.files.front();
  const store::LinkRecord& l = d.links.front();
  const int downloads = d.downloads.at(0).at(0);
  const store::LinkState state = link_state(l, d.downloads.at(0), clock_());
  json events = json::array();
  for (const auto& e : d.events) events.push_back(event_json(e));
  return json_response(200, {{"id", f.public_id},
                             {"filename", f.filename},
                             {"content_type", f.content_type},
                             {"size", f.size},
                             {"sha256", f.sha256},
                             {"created_at", format_iso_time(f.created_at)},
                             {"status", status_name(state)},
                             {"expires_at", format_iso_time(l.expires_at)},
                             {"max_downloads", l.max_downloads},
                             {"downloads", downloads},
                             {"access_code_required", l.code_hash.has_value()},
                             {"revoked_at", l.revoked_at ? json(format_iso_time(*l.revoked_at)) : json()},
                             {"events", events}});
}

Response Api::revoke(const std::string& key_label, std::string_view id) {
  auto detail = owned(key_label, id);
  if (!detail) {
    log_warn("api revoke: " + detail.error().message);
    return api_error(503, "the catalog is not available; try again later");
  }
  if (!*detail) return api_error(404, "no file with this id for this API key");
  auto change = store_.catalog.revoke_message_links((*detail)->message.id, clock_(), key_label);
  if (!change) {
    log_warn("api revoke: " + change.error().message);
    return api_error(503, "the link could not be revoked; try again later");
  }
  if (change->links > 0) log_info("api: " + key_label + " revoked file " + std::string(id));
  Response r;
  r.status = 204;
  r.headers = security_headers();
  return r;
}

}  // namespace attachgate::web
