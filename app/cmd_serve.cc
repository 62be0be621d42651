// app/cmd_serve.cc - `attachgate milter` and `attachgate run`: the long-
// running roles, each in a child of the supervisor (see supervisor.h).
// Config problems are reported before anything starts, with exit status 2.
#include <CLI/CLI.hpp>

#include <iostream>

#include "app/commands.h"
#include "app/supervisor.h"
#include "milter/milter.h"
#include "milter/processor.h"
#include "store/reconcile.h"
#include "store/store.h"
#include "util/log.h"

namespace attachgate::app {
namespace {

// Runs in the child: everything that holds a descriptor or a SQLite
// connection is opened after fork.
int milter_role(const Loaded& loaded, const std::string& policy_file, int control_fd) {
  auto notices = milter::NoticeRenderer::load(loaded.service.templates_dir);
  if (!notices) {
    log_warn(notices.error().message);
    return 2;
  }
  auto store = store::Store::open(loaded.service.state_dir);
  if (!store) {
    log_warn(store.error().message);
    return 2;
  }
  // Held until this process ends; see store::WriterLock.
  auto writer = store::WriterLock::acquire((*store)->blobs);
  if (!writer) {
    log_warn(writer.error().message);
    return 2;
  }
  const std::int64_t min_age = writer->sole() ? 0 : 3600;
  if (auto report = store::reconcile((*store)->blobs, (*store)->catalog, min_age); !report) {
    log_warn("reconciliation: " + report.error().message);
  } else {
    for (const auto& id : report->missing_blobs)
      log_warn("blob " + id + " is missing; its file is marked missing in the catalog");
    if (!report->removed_temp_files.empty() || !report->removed_orphan_blobs.empty())
      log_info("start-up: removed " + std::to_string(report->removed_temp_files.size()) +
               " unfinished and " + std::to_string(report->removed_orphan_blobs.size()) +
               " unrecorded blobs");
  }
  if (auto s = writer->share(); !s) {
    log_warn(s.error().message);
    return 2;
  }
  milter::init_gmime();
  milter::Runtime runtime(loaded.service, policy_file, loaded.policy,
                          std::make_shared<const milter::NoticeRenderer>(std::move(*notices)),
                          **store);
  return milter::run_milter(runtime, control_fd);
}

Runner serve(GlobalOptions& options, bool all_roles) {
  return [&options, all_roles] {
    auto loaded = load_all(options);
    if (!loaded) {
      std::cerr << loaded.error().message << "\n";
      return 2;
    }
    const Loaded config = *loaded;
    const std::string policy_file = policy_path(options);
    std::vector<Role> roles{{"milter", [config, policy_file](int fd) {
                               return milter_role(config, policy_file, fd);
                             }}};
    log_info(std::string(all_roles ? "run" : "milter") + ": config " + config.service.source +
             ", policy " + config.policy->source + ", state " + config.service.state_dir);
    return supervise(roles);
  };
}

}  // namespace

Runner add_milter_command(CLI::App& app, GlobalOptions& options) {
  app.add_subcommand("milter",
                     "Run the milter alone (Postfix: smtpd_milters = the --milter-socket address). "
                     "SIGHUP reloads policy and templates; SIGTERM stops after messages in progress");
  return serve(options, false);
}

Runner add_run_command(CLI::App& app, GlobalOptions& options) {
  app.add_subcommand("run", "Run every role in one service (today: the milter; the web server "
                            "joins when it is built)");
  return serve(options, true);
}

}  // namespace attachgate::app
