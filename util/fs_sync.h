// util/fs_sync.h - small POSIX file helpers for the durability protocol.
//
// Durable files are written to a temporary name, flushed, fsync'd, renamed
// into place, and then the directory is fsync'd, so a crash leaves either the
// old state or the new one. UniqueFd closes its descriptor exactly once.
#pragma once

#include <cstddef>
#include <string>

#include "util/result.h"

namespace attachgate {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { int fd = fd_; fd_ = -1; return fd; }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Writes all of data, retrying on EINTR and short writes.
Status write_all(int fd, const void* data, std::size_t size);
// Reads up to size bytes, retrying on EINTR; returns how many were read
// (fewer than size only at end of file).
Result<std::size_t> read_full(int fd, void* data, std::size_t size);
Status fsync_fd(int fd, const std::string& what);
Status fsync_dir(const std::string& dir);
// mkdir -p with the given mode for directories it creates.
Status make_dirs(const std::string& dir, unsigned mode);
// "what: strerror(errno)" for the current errno.
std::string errno_text(const std::string& what);

}  // namespace attachgate
