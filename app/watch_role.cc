// app/watch_role.cc - see watch_role.h. Like the web role, it opens the
// catalog after fork, so no SQLite connection is shared with another child.
#include "app/watch_role.h"
#include "app/options.h"

#include "store/store.h"
#include "util/log.h"
#include "util/text.h"
#include "watch/postfix_log.h"
#include "watch/watcher.h"

namespace attachgate::app {

int watch_role(const Loaded& loaded, int control_fd) {
  const config::ServiceConfig& service = loaded.service;
  // Opened whole, as the other roles do, so a watcher started first still
  // creates the state directory and a private catalog.
  auto store = open_store(service);
  if (!store) {
    log_warn(store.error().message);
    return 2;
  }
  watch::FollowerLimits limits;
  limits.max_line = watch::kMaxLogLine;
  auto watcher = watch::Watcher::open((*store)->catalog, service.postfix_log, limits);
  if (!watcher) {
    log_warn(watcher.error().message);
    return 2;
  }
  log_info("delivery watcher following " + terminal_safe(service.postfix_log, 400));
  (*watcher)->run(control_fd);
  log_info("delivery watcher stopped");
  return 0;
}

}  // namespace attachgate::app
