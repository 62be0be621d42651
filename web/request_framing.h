// web/request_framing.h - the checks on a request's header that decide
// whether its body can be delimited at all (RFC 9112 sections 3.2 and 6).
//
// The HTTP parser takes a body as chunked only when `chunked` is the last
// transfer coding, and otherwise reads a request as having no body. A body
// sent with `Transfer-Encoding: xchunked` would then be parsed as the next
// request on the connection: request smuggling. So a request whose framing
// is not one we read the same way as every proxy in front of us is refused
// with 400 (501 for a coding we do not implement) and its connection closed.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace attachgate::web {

struct RequestFraming {
  unsigned version = 11;                          // 10 for HTTP/1.0, 11 for HTTP/1.1
  std::vector<std::string_view> transfer_encoding;  // every Transfer-Encoding field's value
  std::size_t content_length_fields = 0;
  std::size_t host_fields = 0;
};

// 0 when the request may be read; otherwise the status to refuse it with,
// after which the connection must close:
//  - Transfer-Encoding on an HTTP/1.0 request, with Content-Length, or whose
//    codings are not exactly `chunked` (case-insensitive): 400; a coding
//    such as gzip before a final `chunked`: 501;
//  - HTTP/1.1 without a Host field, or any request with several: 400.
int framing_refusal(const RequestFraming& framing);

}  // namespace attachgate::web
