// util/blob_url.h - where blobs live: `file:DIR` or `s3://BUCKET/PREFIX?...`.
//
// Parsed in one place so the config check and the store agree on what a
// valid [blobs] url is. The text is the admin's, not a mail's; still, every
// part is checked (bucket and prefix to a safe alphabet, so an object key
// never needs escaping, and an endpoint that is plain http(s)://host[:port]).
// Errors name what is wrong and show a valid example.
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace attachgate {

struct BlobUrl {
  enum class Kind { file, s3 };
  Kind kind = Kind::file;
  std::string dir;       // file: the directory
  std::string bucket;    // s3: the bucket (path-style addressing)
  std::string prefix;    // s3: "" or ending in '/'
  std::string endpoint;  // s3: http(s)://host[:port], no trailing '/'
  std::string region = "us-east-1";

  bool operator==(const BlobUrl&) const = default;
};

std::string_view to_string(BlobUrl::Kind kind);  // "file", "s3"

// s3 query parameters: endpoint (required), region (default us-east-1).
Result<BlobUrl> parse_blob_url(const std::string& url);

}  // namespace attachgate
