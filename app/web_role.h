// app/web_role.h - the web server role, run in a supervisor child by
// `attachgate web` and `attachgate run`.
#pragma once

#include "app/options.h"

namespace attachgate::app {

// Serves until control_fd reaches end of file; 'R' on it reloads the page
// templates. Also purges, every purge_interval, what no link can download.
int web_role(const Loaded& loaded, int control_fd);

}  // namespace attachgate::app
