// watch/log_follower.cc - see log_follower.h. Reads with pread at an
// explicit offset, so the descriptor's own position never matters.
#include "watch/log_follower.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace attachgate::watch {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A rotated copy of path ("maillog.20261123-180032", "mail.log.1") that is
// still the file `want` names: same device and inode, at least as long.
std::optional<std::string> find_rotated(const std::string& path, const store::WatchPosition& want) {
  std::error_code ec;
  const std::string base = base_of(path);
  for (const auto& entry : std::filesystem::directory_iterator(dir_of(path), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= base.size() || name.compare(0, base.size(), base) != 0) continue;
    struct stat st {};
    if (::stat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (st.st_dev == want.device && st.st_ino == want.inode && st.st_size >= want.offset)
      return entry.path().string();
  }
  return std::nullopt;
}

}  // namespace

LogFollower::LogFollower(std::string path, std::optional<store::WatchPosition> start,
                         FollowerLimits limits)
    : path_(std::move(path)), start_(std::move(start)), limits_(limits) {}

LogFollower::~LogFollower() { close_file(); }

void LogFollower::close_file() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  pending_.clear();
  skipping_ = false;
}

store::WatchPosition LogFollower::position() const {
  if (fd_ < 0 && start_) return *start_;
  return store::WatchPosition{path_, device_, inode_, offset_};
}

bool LogFollower::open_file(const std::string& path, std::int64_t offset) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return false;
  }
  close_file();
  fd_ = fd;
  device_ = st.st_dev;
  inode_ = st.st_ino;
  offset_ = read_end_ = offset <= st.st_size ? offset : 0;
  return true;
}

// The first open: continue the file the start position names, at the path
// or (rotated while we were away) beside it; else the path from its start.
bool LogFollower::open_current(Batch& batch) {
  std::optional<store::WatchPosition> start = std::move(start_);
  start_.reset();
  if (!start || (start->device == 0 && start->inode == 0)) return open_file(path_, 0);
  struct stat st {};
  const bool exists = ::stat(path_.c_str(), &st) == 0;
  if (exists && st.st_dev == start->device && st.st_ino == start->inode) {
    if (st.st_size < start->offset)
      batch.notes.push_back(path_ + " is shorter than where reading stopped; reading it from the start");
    return open_file(path_, start->offset);
  }
  if (auto rotated = find_rotated(path_, *start)) {
    batch.notes.push_back("continuing " + *rotated + ", the rotated " + path_ + ", at byte " +
                          std::to_string(start->offset));
    return open_file(*rotated, start->offset);
  }
  if (!exists) {
    start_ = start;  // keep our place until a file appears
    return false;
  }
  batch.notes.push_back(path_ + " was rotated and its old file is gone; lines it got after byte " +
                        std::to_string(start->offset) + " were missed");
  return open_file(path_, 0);
}

Result<bool> LogFollower::read_available(Batch& batch) {
  char buf[kReadChunk];
  std::size_t taken = 0;
  while (taken < limits_.max_batch) {
    ssize_t n = ::pread(fd_, buf, sizeof buf, read_end_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error("reading " + path_ + ": " + std::strerror(errno));
    if (n == 0) return true;
    std::size_t begin = 0;
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
      if (buf[i] != '\n') continue;
      if (skipping_) {
        batch.notes.push_back("skipped a line of " + path_ + " longer than " +
                              std::to_string(limits_.max_line) + " bytes");
        skipping_ = false;
      } else {
        pending_.append(buf + begin, i - begin);
        taken += pending_.size() + 1;
        batch.lines.push_back(std::move(pending_));
      }
      pending_.clear();
      begin = i + 1;
      offset_ = read_end_ + static_cast<std::int64_t>(begin);
    }
    if (!skipping_) pending_.append(buf + begin, n - begin);
    if (pending_.size() > limits_.max_line) {
      skipping_ = true;
      pending_.clear();
    }
    read_end_ += n;
  }
  batch.more = true;
  return false;
}

Result<LogFollower::Batch> LogFollower::poll() {
  Batch batch;
  if (fd_ < 0 && !open_current(batch)) return batch;
  auto at_end = read_available(batch);
  if (!at_end) return at_end.error();
  if (!*at_end) return batch;

  struct stat st {};
  if (::stat(path_.c_str(), &st) != 0) return batch;  // renamed, no new file yet: keep reading
  if (st.st_dev != device_ || st.st_ino != inode_) {
    // Rotated: the old file may have got lines since the read above.
    at_end = read_available(batch);
    if (!at_end) return at_end.error();
    if (!*at_end) return batch;
    if (!pending_.empty()) batch.notes.push_back("the old " + path_ + " ended without a newline");
    if (!open_file(path_, 0)) return batch;  // gone again: retry at the next poll
    batch.notes.push_back(path_ + " was rotated; reading the new file");
  } else if (st.st_size < read_end_) {
    batch.notes.push_back(path_ + " was truncated; reading it from the start");
    pending_.clear();
    skipping_ = false;
    offset_ = read_end_ = 0;
  } else {
    return batch;
  }
  at_end = read_available(batch);
  if (!at_end) return at_end.error();
  return batch;
}

}  // namespace attachgate::watch
