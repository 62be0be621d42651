// web/range.h - the Range request header, for resuming downloads (RFC 9110 §14).
//
// Only one byte range is ever served. The header is untrusted: anything this
// parser does not fully understand (other units, several ranges, bad syntax,
// numbers too big for 64 bits) is `ignored`, which RFC 9110 allows and which
// means the whole body is sent with 200. Nothing here does I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace attachgate::web {

struct ByteRange {
  std::uint64_t first = 0, last = 0;  // inclusive
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

enum class RangeKind {
  none,           // no header: 200 with the whole body
  satisfiable,    // 206 with `range`
  unsatisfiable,  // 416 with unsatisfied_range()
  ignored,        // not understood or not served: 200 with the whole body
};

struct RangeRequest {
  RangeKind kind = RangeKind::none;
  ByteRange range;  // only for satisfiable: within [0, size), last clamped to size-1
};

// `bytes=a-b`, `bytes=a-` or `bytes=-n` (the last n bytes), unit in any
// case, OWS and empty list elements around the one range tolerated.
// A range starting at or past the end, a suffix of 0, or a size of 0 is
// unsatisfiable.
RangeRequest parse_range(std::string_view header, std::uint64_t size);

std::string content_range(ByteRange r, std::uint64_t size);  // "bytes 0-99/1000"
std::string unsatisfied_range(std::uint64_t size);           // "bytes */1000"

}  // namespace attachgate::web
