// app/notify_role.h - the notify role of `attachgate run`: sends receipts
// and download notices from the outbox, in its own process so a slow relay
// never holds up the milter or a download.
#pragma once

#include "app/options.h"

namespace attachgate::app {

// Sends until control_fd reaches end of file; 'R' on it reloads the mail
// templates. Looks for due items every two seconds.
int notify_role(const Loaded& loaded, int control_fd);

}  // namespace attachgate::app
