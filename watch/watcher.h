// watch/watcher.h - the delivery watcher: Postfix's log in, events out.
//
// Each round reads the lines that arrived in the log, keeps Postfix's
// per-recipient verdicts (delivered, deferred, bounced), and records them
// for the messages whose queue id the milter recorded (most mail is not
// ours, and is ignored), together with the new log position, in one catalog
// transaction. If that transaction fails, the round's lines are read again
// next time, so nothing is lost and nothing is counted twice.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "store/catalog_roles.h"
#include "util/result.h"
#include "watch/log_follower.h"

namespace attachgate::watch {

class Watcher {
 public:
  // Picks up where the last watcher of log_path stopped, as the catalog says.
  static Result<std::unique_ptr<Watcher>> open(store::WatchCatalog& catalog, std::string log_path,
                                               FollowerLimits limits = {});

  struct Round {
    int lines = 0, reports = 0, recorded = 0;
    bool more = false;  // the log has more right now: call again at once
  };
  Result<Round> poll_once(std::int64_t now);

  // Rounds every interval until control_fd reaches end of file (or fails);
  // other bytes on it (the supervisor's reload) are ignored. control_fd < 0:
  // runs until the process ends.
  void run(int control_fd, std::chrono::milliseconds interval = std::chrono::milliseconds(500));

 private:
  Watcher(store::WatchCatalog& catalog, std::string log_path, FollowerLimits limits,
          std::optional<store::WatchPosition> saved);

  store::WatchCatalog& catalog_;
  std::string path_;
  FollowerLimits limits_;
  std::optional<store::WatchPosition> saved_;  // what the catalog holds
  std::unique_ptr<LogFollower> follower_;
};

}  // namespace attachgate::watch
