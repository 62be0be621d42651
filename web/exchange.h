// web/exchange.h - one HTTP exchange as plain values: what the server read,
// what the handler answers, and (for uploads) where a body streams to.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "web/byte_source.h"

namespace attachgate::web {

struct Request {
  std::string method;  // as sent: "GET", "HEAD", "POST", ...
  std::string target;  // the request-target, e.g. "/d/TOKEN"
  std::string content_type;
  std::string body;  // already bounded by the server
  std::string range, if_range;
  std::string remote_addr, user_agent;
  std::string api_key;  // X-API-Key
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // when stream is null
  // A download: `length` bytes of `stream` (already moved to the range's
  // start); a HEAD gets the headers and no stream. Whatever the body, the
  // server calls on_done (when set) once, after the response went out or
  // failed, with how many body bytes reached the socket.
  std::unique_ptr<ByteSource> stream;
  std::uint64_t length = 0;
  std::function<void(std::uint64_t sent)> on_done;

  const std::string* header(std::string_view name) const;
};

// A request body taken as it arrives (an API upload) instead of whole:
// the server hands on each piece it reads, and calls finish() once the body
// is complete. A Response from write() refuses the upload; the server sends
// it and closes the connection without reading the rest.
class UploadSink {
 public:
  virtual ~UploadSink() = default;
  virtual std::optional<Response> write(const char* data, std::size_t size) = 0;
  virtual Response finish() = 0;
};

// How the server should go on once it has read a request's header:
//  - answer: send this now, without reading the body (an API key missing, a
//    declared length over the limit, or a request that has no body);
//  - upload: stream the body into it;
//  - neither: read the body whole (bounded by the server) and call handle().
struct Admission {
  std::optional<Response> answer;
  std::unique_ptr<UploadSink> upload;
};

}  // namespace attachgate::web
