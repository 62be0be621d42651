// watch/watcher.cc - see watcher.h.
#include "watch/watcher.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <thread>
#include <vector>

#include "util/log.h"
#include "util/text.h"
#include "watch/postfix_log.h"

namespace attachgate::watch {
namespace {

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// Waits up to interval for the control pipe; false once it reached EOF.
bool keep_going(int control_fd, std::chrono::milliseconds interval) {
  if (control_fd < 0) {
    if (interval.count() == 0) return true;
    std::this_thread::sleep_for(interval);
    return true;
  }
  pollfd p{control_fd, POLLIN, 0};
  int n = ::poll(&p, 1, static_cast<int>(interval.count()));
  if (n < 0) return errno == EINTR;
  if (n == 0) return true;
  char c;
  ssize_t got = ::read(control_fd, &c, 1);
  if (got < 0) return errno == EINTR || errno == EAGAIN;
  return got == 1;  // a reload byte: nothing of ours to reload
}

}  // namespace

Watcher::Watcher(store::WatchCatalog& catalog, std::string log_path, FollowerLimits limits,
                 std::optional<store::WatchPosition> saved)
    : catalog_(catalog),
      path_(std::move(log_path)),
      limits_(limits),
      saved_(std::move(saved)),
      follower_(std::make_unique<LogFollower>(path_, saved_, limits_)) {}

Result<std::unique_ptr<Watcher>> Watcher::open(store::WatchCatalog& catalog, std::string log_path,
                                               FollowerLimits limits) {
  auto saved = catalog.load_watch_position(log_path);
  if (!saved) return saved.error();
  return std::unique_ptr<Watcher>(new Watcher(catalog, std::move(log_path), limits, *saved));
}

Result<Watcher::Round> Watcher::poll_once(std::int64_t now) {
  auto batch = follower_->poll();
  if (!batch) return batch.error();
  for (const auto& note : batch->notes) log_info("watch: " + terminal_safe(note, 400));
  Round round;
  round.lines = static_cast<int>(batch->lines.size());
  round.more = batch->more;
  std::vector<store::DeliveryReport> reports;
  for (const auto& line : batch->lines)
    if (auto r = parse_delivery_line(line, now)) reports.push_back(std::move(*r));
  round.reports = static_cast<int>(reports.size());

  store::WatchPosition position = follower_->position();
  if (position.device == 0 && position.inode == 0) return round;  // no log yet
  if (reports.empty() && saved_ && position == *saved_) return round;
  auto recorded = catalog_.record_deliveries(reports, position, now);
  if (!recorded) {
    // The lines were not recorded: read them again from the saved place.
    follower_ = std::make_unique<LogFollower>(path_, saved_, limits_);
    return recorded.error();
  }
  saved_ = position;
  round.recorded = *recorded;
  return round;
}

void Watcher::run(int control_fd, std::chrono::milliseconds interval) {
  std::string last_error;
  bool more = false;
  // With a backlog, rounds follow at once, but a stop is still seen.
  while (keep_going(control_fd, more ? std::chrono::milliseconds(0) : interval)) {
    auto round = poll_once(unix_now());
    more = round && round->more;
    if (!round) {
      // One line per distinct problem, not one every half second.
      if (round.error().message != last_error) log_warn("watch: " + round.error().message);
      last_error = round.error().message;
      continue;
    }
    last_error.clear();
    if (round->recorded > 0)
      log_info("watch: recorded " + std::to_string(round->recorded) + " delivery event" +
               (round->recorded == 1 ? "" : "s"));
  }
}

}  // namespace attachgate::watch
