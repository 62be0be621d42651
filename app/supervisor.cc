// app/supervisor.cc - see supervisor.h.
#include "app/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "util/log.h"

namespace attachgate::app {
namespace {

struct Child {
  const Role* role = nullptr;
  pid_t pid = -1;
  int control = -1;  // write end
  std::chrono::steady_clock::time_point started;
};

bool start(Child& c, const sigset_t& old_mask) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    ::close(fds[1]);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a killed parent stops its children cleanly
    // A parent killed between fork and prctl sends no signal: the worker
    // would serve on, orphaned, holding the milter socket (the kill -9
    // campaign found one still listening minutes later).
    if (::getppid() != parent) std::_Exit(1);
    ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    set_log_name("attachgate/" + c.role->name);
    std::_Exit(c.role->run(fds[0]));
  }
  ::close(fds[0]);
  c.pid = pid;
  c.control = fds[1];
  c.started = std::chrono::steady_clock::now();
  return true;
}

void close_control(Child& c) {
  if (c.control >= 0) ::close(c.control);
  c.control = -1;
}

}  // namespace

int supervise(const std::vector<Role>& roles) {
  sigset_t mask, old_mask;
  sigemptyset(&mask);
  for (int sig : {SIGHUP, SIGTERM, SIGINT, SIGCHLD}) sigaddset(&mask, sig);
  ::sigprocmask(SIG_BLOCK, &mask, &old_mask);
  ::signal(SIGPIPE, SIG_IGN);
  int sfd = ::signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) log_fatal("signalfd failed");

  std::vector<Child> children;
  for (const auto& r : roles) {
    Child c;
    c.role = &r;
    children.push_back(c);
    if (!start(children.back(), old_mask)) log_fatal("cannot start " + r.name);
  }
  bool stopping = false;
  int status_out = 0;
  auto alive = [&] {
    for (auto& c : children)
      if (c.pid > 0) return true;
    return false;
  };
  while (alive()) {
    signalfd_siginfo info {};
    if (::read(sfd, &info, sizeof info) != sizeof info) continue;
    if (info.ssi_signo == SIGHUP) {
      log_info("SIGHUP: reloading policy and templates");
      for (auto& c : children)
        if (c.pid > 0 && c.control >= 0 && ::write(c.control, "R", 1) != 1) log_warn("cannot signal " + c.role->name);
    } else if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) {
      // First signal: close the control pipes, which tells each role to stop
      // taking work and finish what it has. A second one stops them at once.
      if (!stopping) {
        log_info("stopping: letting messages in progress finish (signal again to stop at once)");
        for (auto& c : children) close_control(c);
      } else {
        for (auto& c : children)
          if (c.pid > 0) ::kill(c.pid, SIGTERM);
      }
      stopping = true;
    } else if (info.ssi_signo == SIGCHLD) {
      int st = 0;
      pid_t pid;
      while ((pid = ::waitpid(-1, &st, WNOHANG)) > 0) {
        for (auto& c : children) {
          if (c.pid != pid) continue;
          close_control(c);
          c.pid = -1;
          const int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
          if (stopping) break;
          const auto lived = std::chrono::steady_clock::now() - c.started;
          if (code == 2 && lived < std::chrono::seconds(5)) {
            log_warn(c.role->name + " could not start (exit 2); stopping");
            status_out = 2;
            stopping = true;
            for (auto& o : children) close_control(o);
            break;
          }
          log_warn(c.role->name + " exited with status " + std::to_string(code) + "; restarting");
          std::this_thread::sleep_for(std::chrono::seconds(1));
          if (!start(c, old_mask)) log_fatal("cannot restart " + c.role->name);
        }
      }
    }
  }
  ::close(sfd);
  return status_out;
}

}  // namespace attachgate::app
