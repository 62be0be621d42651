// milter/spool.h - a message (or a rewritten body) held while it is handled.
//
// Bytes stay in memory up to a small threshold, then move to an anonymous
// 0600 file in the spool directory (O_TMPFILE: it has no name, so nothing is
// left behind by eom, abort, close or a crash). Memory use is bounded by the
// threshold whatever the message size.
#pragma once

#include <cstdint>
#include <string>

#include "util/fs_sync.h"
#include "util/result.h"

namespace attachgate::milter {

class Spool {
 public:
  Spool(std::string dir, std::uint64_t memory_threshold)
      : dir_(std::move(dir)), threshold_(memory_threshold) {}
  Spool(Spool&&) = default;
  Spool& operator=(Spool&&) = default;

  Status append(const void* data, std::size_t size);
  Status append(std::string_view text) { return append(text.data(), text.size()); }
  std::uint64_t size() const { return size_; }

  bool in_memory() const { return !fd_.valid(); }
  const std::string& memory() const { return memory_; }
  // A new descriptor for the file, positioned at 0; the caller owns it.
  Result<int> reopen() const;
  // For writers that need a descriptor (GMime): moves the content to a file
  // and returns a duplicate descriptor positioned at its end; the caller
  // owns it and calls sync_size() when done writing.
  Result<int> writable_fd();
  Status sync_size();
  // Reads everything back in pieces, for smfi_replacebody and tests.
  template <class F>
  Status for_each_chunk(std::size_t chunk, F&& fn) const;
  void clear();

 private:
  Status spill();
  std::string dir_;
  std::uint64_t threshold_;
  std::string memory_;
  UniqueFd fd_;
  std::uint64_t size_ = 0;
};

template <class F>
Status Spool::for_each_chunk(std::size_t chunk, F&& fn) const {
  if (in_memory()) {
    for (std::size_t off = 0; off < memory_.size(); off += chunk) {
      if (auto s = fn(std::string_view(memory_).substr(off, chunk)); !s) return s;
    }
    return {};
  }
  auto fd = reopen();
  if (!fd) return fd.error();
  UniqueFd owned(*fd);
  std::string buf(chunk, '\0');
  for (;;) {
    auto got = read_full(owned.get(), buf.data(), buf.size());
    if (!got) return got.error();
    if (*got == 0) return {};
    if (auto s = fn(std::string_view(buf.data(), *got)); !s) return s;
  }
}

}  // namespace attachgate::milter
