// app/watch_role.h - the delivery watcher role, run in a supervisor child
// by `attachgate watch` and by `attachgate run` when [watch] postfix_log is set.
#pragma once

#include "app/options.h"

namespace attachgate::app {

// Follows service.postfix_log and records delivered / deferred / bounced
// events until control_fd reaches end of file.
int watch_role(const Loaded& loaded, int control_fd);

}  // namespace attachgate::app
