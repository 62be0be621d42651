// milter/spool.cc - see spool.h.
#include "milter/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "util/fault.h"

namespace attachgate::milter {

Status Spool::spill() {
  if (auto s = make_dirs(dir_, 0700); !s) return s;
  int fd = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    // Filesystems without O_TMPFILE: a named file, unlinked at once.
    std::string tmpl = dir_ + "/spool-XXXXXX";
    fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd < 0) return make_error(errno_text("cannot create spool file in " + dir_));
    ::unlink(tmpl.c_str());
  }
  fd_.reset(fd);
  if (auto s = write_all(fd, memory_.data(), memory_.size()); !s) return s;
  std::string().swap(memory_);
  return {};
}

Status Spool::append(const void* data, std::size_t size) {
  fault_point("spool_append");
  size_ += size;
  if (in_memory()) {
    if (memory_.size() + size <= threshold_) {
      memory_.append(static_cast<const char*>(data), size);
      return {};
    }
    if (auto s = spill(); !s) return s;
  }
  return write_all(fd_.get(), data, size);
}

Result<int> Spool::reopen() const {
  std::string path = "/proc/self/fd/" + std::to_string(fd_.get());
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(errno_text("cannot reopen spool file"));
  return fd;
}

Result<int> Spool::writable_fd() {
  if (in_memory()) {
    if (auto s = spill(); !s) return s.error();
  }
  int fd = ::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return make_error(errno_text("dup spool file"));
  return fd;
}

Status Spool::sync_size() {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) return make_error(errno_text("fstat spool file"));
  size_ = static_cast<std::uint64_t>(st.st_size);
  return {};
}

void Spool::clear() {
  fd_.reset();
  std::string().swap(memory_);
  size_ = 0;
}

}  // namespace attachgate::milter
