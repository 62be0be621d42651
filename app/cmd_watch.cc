// app/cmd_watch.cc - `attachgate watch`: the delivery watcher alone, in a
// supervisor child like the other roles (SIGTERM stops it after its round).
#include <CLI/CLI.hpp>

#include <iostream>

#include "app/commands.h"
#include "app/supervisor.h"
#include "app/watch_role.h"
#include "util/log.h"

namespace attachgate::app {

Runner add_watch_command(CLI::App& app, GlobalOptions& options) {
  app.add_subcommand("watch",
                     "Run the delivery watcher alone: follow Postfix's log ([watch] postfix_log "
                     "or --postfix-log) and record delivered, deferred and bounced per recipient");
  return [&options] {
    // The policy plays no part here, so a bad policy file does not stop it.
    auto service = load_service(options);
    if (!service) {
      std::cerr << service.error().message << "\n";
      return 2;
    }
    if (service->postfix_log.empty()) {
      std::cerr << service->source
                << ": no Postfix log to watch; set [watch] postfix_log or give --postfix-log\n";
      return 2;
    }
    const Loaded config{*service, nullptr};
    log_info("watch: config " + config.service.source + ", state " + config.service.state_dir);
    return supervise({{"watch", [config](int fd) { return watch_role(config, fd); }}});
  };
}

}  // namespace attachgate::app
