// util/fs_sync.cc - see fs_sync.h.
#include "util/fs_sync.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace attachgate {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

Status write_all(int fd, const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(errno_text("write"));
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return {};
}

Result<std::size_t> read_full(int fd, void* data, std::size_t size) {
  char* p = static_cast<char*>(data);
  std::size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(fd, p + got, size - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(errno_text("read"));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

Status fsync_fd(int fd, const std::string& what) {
  if (::fsync(fd) != 0) return make_error(errno_text("fsync " + what));
  return {};
}

Status fsync_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return make_error(errno_text("open directory " + dir));
  return fsync_fd(fd.get(), dir);
}

Status make_dirs(const std::string& dir, unsigned mode) {
  if (dir.empty()) return {};
  std::string partial;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST)
      return make_error(errno_text("mkdir " + partial));
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return make_error(dir + ": not a directory");
  return {};
}

}  // namespace attachgate
