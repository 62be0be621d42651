// app/cmd_serve.cc - `attachgate milter`, `web` and `run`: the long-
// running roles, each in a child of the supervisor (see supervisor.h).
// Config problems are reported before anything starts, with exit status 2.
#include <CLI/CLI.hpp>

#include <iostream>

#include "app/commands.h"
#include "app/metrics_files.h"
#include "app/notify_role.h"
#include "app/supervisor.h"
#include "app/watch_role.h"
#include "app/web_role.h"
#include "app/options.h"
#include "milter/milter.h"
#include "milter/processor.h"
#include "store/reconcile.h"
#include "store/store.h"
#include "util/log.h"
#include "util/metrics_file.h"

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
  auto store = open_store(loaded.service);
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
  MetricsFileWriter metrics(milter_metrics_file(loaded.service.state_dir), kMetricsFileInterval,
                            [&runtime] { return runtime.metrics().exposition(); });
  return milter::run_milter(runtime, control_fd);
}

enum class Roles { milter, web, all };

Runner serve(GlobalOptions& options, Roles which) {
  return [&options, which] {
    auto loaded = load_all(options);
    if (!loaded) {
      std::cerr << loaded.error().message << "\n";
      return 2;
    }
    const Loaded config = *loaded;
    const std::string policy_file = policy_path(options);
    // Create the state directory (master key, catalog in WAL mode, schema)
    // here, once, before the roles start together: several processes
    // creating a fresh catalog at the same moment can meet SQLITE_BUSY on
    // the switch to WAL, which no busy timeout covers.
    const auto& service = config.service;
    if (auto created = open_store(service); !created) {
      std::cerr << "attachgate: " << created.error().message << "\n";
      return 2;
    }
    std::vector<Role> roles;
    if (which != Roles::web)
      roles.push_back({"milter", [config, policy_file](int fd) {
                         return milter_role(config, policy_file, fd);
                       }});
    if (which != Roles::milter)
      roles.push_back({"web", [config](int fd) { return web_role(config, fd); }});
    if (which == Roles::all)
      roles.push_back({"notify", [config](int fd) { return notify_role(config, fd); }});
    if (which == Roles::all && !config.service.postfix_log.empty())
      roles.push_back({"watch", [config](int fd) { return watch_role(config, fd); }});
    else if (which == Roles::all)
      log_info("run: the delivery watcher is off ([watch] postfix_log is empty)");
    const char* name = which == Roles::all ? "run" : which == Roles::web ? "web" : "milter";
    log_info(std::string(name) + ": config " + config.service.source + ", policy " +
             config.policy->source + ", state " + config.service.state_dir);
    return supervise(roles);
  };
}

}  // namespace

Runner add_milter_command(CLI::App& app, GlobalOptions& options) {
  app.add_subcommand("milter",
                     "Run the milter alone (Postfix: smtpd_milters = the --milter-socket address). "
                     "SIGHUP reloads policy and templates; SIGTERM stops after messages in progress");
  return serve(options, Roles::milter);
}

Runner add_web_command(CLI::App& app, GlobalOptions& options) {
  app.add_subcommand("web",
                     "Run the download server alone (landing pages, downloads, tracking pixel) on "
                     "the --listen address; purges ended links every 10 minutes. SIGHUP reloads "
                     "the page templates");
  return serve(options, Roles::web);
}

Runner add_run_command(CLI::App& app, GlobalOptions& options) {
  app.add_subcommand("run", "Run every role over one state directory: the milter and the "
                            "download server, the notifier (receipts and download notices to senders), and "
                            "the delivery watcher when [watch] postfix_log is set");
  return serve(options, Roles::all);
}

}  // namespace attachgate::app
