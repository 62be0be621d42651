// web/api.h - the API for programs under /api/v1/files.
//
// A program with an API key uploads a file and gets a link back, reads the
// file's terms, status and events, and revokes it:
//   POST   /api/v1/files          multipart/form-data: file, expiration_days,
//                                 max_downloads, access_code -> 201
//   PUT    /api/v1/files/{name}   the raw body is the file; the same terms
//                                 as query parameters -> 201
//   GET    /api/v1/files/{id}     terms, status and events -> 200
//   DELETE /api/v1/files/{id}     revokes the link -> 204; it then answers 410
// 201 carries {id, download_url, expires_at}. Every error is JSON,
// {"status": N, "error": "...", "message": "..."}, with 401 (no or wrong
// X-API-Key), 404 (no such file for this key), 405, 413 (over max_upload),
// 415, 422 (bad terms or form) or 503 (the file could not be stored).
//
// Keys are configured as "sha256:<hex>" of the key ([api] keys), never in
// clear; a request's key is hashed and compared in constant time. A key sees
// only the files uploaded with it. The upload streams into the blob store
// as it arrives (one chunk in memory), so its size is bounded by the limit,
// not by memory; an upload that fails or is cut off leaves no blob and no
// catalog row. The link token exists only in the 201 answer.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"
#include "web/exchange.h"

namespace attachgate::web {

struct ApiConfig {
  std::vector<std::string> key_hashes;  // "sha256:<64 hex>"; empty: every request gets 401
  std::string public_url = "http://127.0.0.1:8025";
  std::uint64_t max_upload = 1'000'000'000;  // file bytes
  std::int64_t default_expiration_days = 7;
  std::int64_t max_expiration_days = 30;
  int max_downloads = 100;  // the most a caller may ask for
};

// "sha256:<hex>" of a key, as [api] keys holds it.
std::string api_key_hash(std::string_view key);

// The terms of an upload, checked; the fields arrive as text.
struct UploadTerms {
  std::int64_t expiration_days = 0;
  int max_downloads = 1;
  std::optional<std::string> access_code;
};

class Api {
 public:
  using Clock = std::function<std::int64_t()>;
  Api(store::StoreFor<store::WebCatalog> store, ApiConfig config, Clock clock);

  // Any request whose path starts with /api/; content_length when declared.
  Admission admit(const Request& head, std::optional<std::uint64_t> content_length);

  // For the upload sinks (api_upload.cc).
  struct Field { std::string_view name, value; };
  // Reads the terms from fields; an Error's message names the bad one.
  Result<UploadTerms> terms(const std::vector<Field>& fields) const;
  // Stores an uploaded blob as a file behind a new link: 201 or an error.
  Response publish(const std::string& key_label, const std::string& filename,
                   const std::string& content_type, const store::BlobInfo& blob,
                   const UploadTerms& terms);
  const ApiConfig& config() const { return config_; }
  const store::StoreFor<store::WebCatalog>& store() const { return store_; }

 private:
  std::optional<std::string> authenticate(const Request& head) const;  // the key's label
  Response show(const std::string& key_label, std::string_view id);
  Response revoke(const std::string& key_label, std::string_view id);
  Result<std::optional<store::MessageDetail>> owned(const std::string& key_label,
                                                    std::string_view id);

  store::StoreFor<store::WebCatalog> store_;
  ApiConfig config_;
  Clock clock_;
};

// The most a multipart body may carry besides its file (the form's fields
// and boundaries); the body as a whole is bounded by max_upload plus this.
inline constexpr std::uint64_t kFormOverhead = 64 * 1024;

// A JSON error answer: {"status", "error" (the reason phrase), "message"}.
Response api_error(int status, std::string message);

// The sinks a POST or PUT streams into (api_upload.cc).
std::unique_ptr<UploadSink> multipart_upload(Api& api, std::string key_label, std::string boundary);
std::unique_ptr<UploadSink> raw_upload(Api& api, std::string key_label, std::string filename,
                                       std::string content_type, UploadTerms terms);

}  // namespace attachgate::web
