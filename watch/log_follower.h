// watch/log_follower.h - follows a growing log file by path, like tail -F.
//
// A file is known by device and inode, so a rename (logrotate's default,
// `postfix logrotate`) is told apart from new data: the old file is read to
// its end, then the new one from its start. A file that shrank was
// truncated in place (copytruncate) and is read again from its start. Only
// whole lines (ending in '\n') are handed out; the position is always just
// after the last of them, so saving it with what the lines caused lets a new
// follower, started from it after a restart, go on without repeating or
// missing a line, even when the log was rotated meanwhile (the old file is
// looked up by inode beside the path). Lines over max_line bytes are dropped
// whole, so a hostile or broken log cannot make it hold unbounded memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/watch_records.h"
#include "util/result.h"

namespace attachgate::watch {

struct FollowerLimits {
  std::size_t max_line = 64 * 1024;     // longer lines are skipped
  std::size_t max_batch = 1024 * 1024;  // bytes handed out per poll
};

class LogFollower {
 public:
  // start: where an earlier follower of this path stopped; none: the
  // file's beginning.
  explicit LogFollower(std::string path, std::optional<store::WatchPosition> start = {},
                       FollowerLimits limits = {});
  ~LogFollower();
  LogFollower(const LogFollower&) = delete;
  LogFollower& operator=(const LogFollower&) = delete;

  struct Batch {
    std::vector<std::string> lines;  // whole lines, without their '\n'
    std::vector<std::string> notes;  // rotations, truncations, skipped lines: for the log
    bool more = false;               // max_batch reached: poll again at once
  };
  // The lines that arrived since the last poll. A missing file is not an
  // error (Postfix creates its log at the first line); a read error is.
  Result<Batch> poll();

  // Just after the last line handed out.
  store::WatchPosition position() const;

 private:
  bool open_current(Batch& batch);
  bool open_file(const std::string& path, std::int64_t offset);
  Result<bool> read_available(Batch& batch);  // true: reached the end of the file
  void close_file();

  std::string path_;
  std::optional<store::WatchPosition> start_;
  FollowerLimits limits_;
  int fd_ = -1;
  std::uint64_t device_ = 0, inode_ = 0;
  std::int64_t offset_ = 0;    // after the last whole line handed out
  std::int64_t read_end_ = 0;  // after the last byte read (offset_ + pending)
  std::string pending_;        // the start of a line not yet ended
  bool skipping_ = false;      // inside a line over max_line
};

}  // namespace attachgate::watch
