// milter/milter.h - run the milter: register with libmilter, serve the MTA.
//
// run_milter() blocks until SIGTERM/SIGINT (libmilter's own signal thread
// stops it) or until control_fd reaches end of file, then waits for the
// messages in progress to finish. A byte 'R' on control_fd reloads policy
// and templates: libmilter treats SIGHUP as stop, so the supervisor owns
// SIGHUP and passes it on this way.
#pragma once

#include "milter/runtime.h"

namespace attachgate::milter {

// Returns the process exit status.
int run_milter(Runtime& runtime, int control_fd);

}  // namespace attachgate::milter
