// app/supervisor.h - the parent process of `attachgate run` and `milter`.
//
// libmilter stops on SIGHUP, so the roles run in child processes and the
// parent owns the signals: SIGHUP is passed to each child as a byte 'R' on
// its control pipe (reload); on SIGTERM/SIGINT the parent closes the pipes,
// which asks each child to finish what it is doing and exit, and waits (a
// second signal is forwarded as SIGTERM, which stops them at once). A child that dies
// is restarted after a short pause; one that fails to start (exit status 2)
// within its first seconds stops the whole service instead of looping.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace attachgate::app {

struct Role {
  std::string name;
  // Runs in the child; control_fd is the read end of its control pipe.
  std::function<int(int control_fd)> run;
};

// Returns the exit status for the parent.
int supervise(const std::vector<Role>& roles);

}  // namespace attachgate::app
