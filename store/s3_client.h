// store/s3_client.h - one S3 request at a time over libcurl, signed with
// AWS Signature Version 4 (CURLOPT_AWS_SIGV4).
//
// Path-style addressing (endpoint/bucket/key), so any S3-compatible store
// works. libcurl 7.88 signs the query exactly as written and does not send
// x-amz-content-sha256, so callers write the query canonical (sorted, every
// parameter with '=', values escaped with s3_escape) and perform() adds the
// body's SHA-256 itself. A response body is kept only up to a bound, so a
// misbehaving server cannot make us hold more than we asked for. Every
// request has a connect timeout and a low-speed limit.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/s3_credentials.h"
#include "util/result.h"

namespace attachgate::store {

struct S3Location {
  std::string endpoint;  // http(s)://host[:port]
  std::string bucket;
  std::string region;
  S3Credentials credentials;
};

struct S3Request {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string key = "";        // "" for the bucket itself
  std::string query = "";      // canonical, see above
  const void* body = nullptr;
  std::size_t body_size = 0;
  std::string content_type = "";
  // Inclusive byte range to GET.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> range = std::nullopt;
  std::size_t max_response = 1 << 20;  // body bytes kept; more is an Error
};

struct S3Response {
  long status = 0;
  std::string body;
  std::string etag;
  std::uint64_t content_length = 0;  // HEAD: the object's size
};

class S3Client {
 public:
  explicit S3Client(std::shared_ptr<const S3Location> where);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // An Error only if no HTTP answer came (network, timeout, TLS); any
  // status is returned for the caller to judge.
  Result<S3Response> perform(const S3Request& request);
  // Names the endpoint, the request and what to check for this answer.
  std::string failure(const S3Request& request, const S3Response& response) const;

 private:
  std::string describe(const S3Request& request) const;
  std::shared_ptr<const S3Location> where_;
  void* curl_;  // CURL*
};

// RFC 3986 unreserved characters kept, everything else %XX (as SigV4 wants).
std::string s3_escape(std::string_view text);
// The text of every <tag>...</tag> in an S3 XML answer, entities decoded.
std::vector<std::string> xml_values(std::string_view xml, std::string_view tag);
// ISO 8601 as S3 writes it (2026-12-06T05:30:12.000Z) to unix seconds; 0 if unreadable.
std::int64_t s3_time(std::string_view text);

}  // namespace attachgate::store
