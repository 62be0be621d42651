// web/byte_source.h - a response body read piece by piece.
//
// A download is never held in memory: the server pulls a ByteSource in
// bounded chunks (a decrypting blob reader, or a zip stream over several).
// size() is known up front, so every response carries Content-Length.
#pragma once

#include <cstdint>
#include <cstddef>

#include "util/result.h"

namespace attachgate::web {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Total bytes from the start, fixed for the source's life.
  virtual std::uint64_t size() const = 0;
  // Up to `size` bytes; 0 only at the end. An Error means the bytes cannot
  // be trusted (a tampered blob): the caller must cut the transfer short.
  virtual Result<std::size_t> read(void* data, std::size_t size) = 0;
  // Moves forward `bytes` (at most what is left), for Range requests.
  virtual Status skip(std::uint64_t bytes) = 0;
};

}  // namespace attachgate::web
