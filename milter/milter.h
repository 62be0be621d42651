// milter/milter.h - run the milter: register with libmilter, serve the MTA.
//
// run_milter() blocks until control_fd reaches end of file (the graceful
// stop: smfi_stop, then the messages in progress finish) or until SIGTERM
// (libmilter's own signal thread aborts the sessions; Postfix tempfails
// them), then waits up to 120 s for messages still in progress. A byte 'R' on control_fd reloads policy
// and templates: libmilter treats SIGHUP as stop, so the supervisor owns
// SIGHUP and passes it on this way.
#pragma once

#include "milter/runtime.h"

namespace attachgate::milter {

// Returns the process exit status.
int run_milter(Runtime& runtime, int control_fd);

}  // namespace attachgate::milter
