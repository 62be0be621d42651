// web/multipart.h - multipart/form-data request bodies, read as a stream.
//
// An upload is as large as the API allows (gigabytes), so the body is never
// held: bytes go in as the socket delivers them, in pieces of any size, and
// each part's content comes out through on_data as soon as it cannot be the
// start of a boundary. Only a part's header block (bounded) and a
// boundary's length of look-behind are kept. Everything here came from the
// network: a missing or malformed boundary, an oversized part header, a
// body that ends before the closing boundary are Errors with a message that
// can be shown to the client as it is.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace attachgate::web {

inline constexpr std::size_t kMaxPartHeaderBytes = 8 * 1024;
inline constexpr std::size_t kMaxPreambleBytes = 64 * 1024;  // before the first boundary

// What a part's headers say about it. The filename is as the client sent
// it (raw bytes); the caller sanitises it.
struct PartInfo {
  std::string name;                     // Content-Disposition name
  std::optional<std::string> filename;  // Content-Disposition filename, if any
  std::string content_type;             // "" when absent
};

// The boundary parameter of "multipart/form-data; boundary=...", or an
// Error if the type is another or the boundary is missing or invalid
// (RFC 2046: 1 to 70 characters).
Result<std::string> form_data_boundary(std::string_view content_type);

class MultipartReader {
 public:
  struct Callbacks {
    std::function<Status(const PartInfo&)> on_part;  // a part begins
    std::function<Status(const char*, std::size_t)> on_data;
    std::function<Status()> on_part_end;
  };
  MultipartReader(std::string boundary, Callbacks callbacks);

  // The next piece of the body. An Error from a callback is handed back
  // as it is; after any Error the reader takes no more input.
  Status feed(const char* data, std::size_t size);
  // The body ended: an Error unless the closing boundary was read.
  Status finish();

 private:
  enum class State { preamble, after_boundary, headers, data, done, failed };
  Status step(bool& progressed);
  Status start_part(std::string_view header_block);
  Status fail(std::string message);

  std::string delimiter_;  // "\r\n--" + boundary
  Callbacks callbacks_;
  std::string pending_;  // bytes not yet handed on
  std::size_t preamble_bytes_ = 0;
  State state_ = State::preamble;
};

}  // namespace attachgate::web
