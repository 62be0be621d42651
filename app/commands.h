// app/commands.h - each subcommand registers itself on the CLI11 app.
//
// A subcommand's callback returns the process exit status: 0 done,
// 1 it ran and found a problem (check), 2 it could not run (bad config,
// unreadable catalog). Messages for people go to stderr; reports to stdout.
#pragma once

#include <functional>

#include "app/options.h"

namespace CLI { class App; }

namespace attachgate::app {

using Runner = std::function<int()>;

// Each returns the runner to call if its subcommand was chosen.
Runner add_check_command(CLI::App& app, GlobalOptions& options);
Runner add_list_command(CLI::App& app, GlobalOptions& options);
Runner add_show_command(CLI::App& app, GlobalOptions& options);
Runner add_export_command(CLI::App& app, GlobalOptions& options);
Runner add_milter_command(CLI::App& app, GlobalOptions& options);
Runner add_web_command(CLI::App& app, GlobalOptions& options);
Runner add_run_command(CLI::App& app, GlobalOptions& options);
Runner add_watch_command(CLI::App& app, GlobalOptions& options);
Runner add_purge_command(CLI::App& app, GlobalOptions& options);
Runner add_revoke_command(CLI::App& app, GlobalOptions& options);
Runner add_extend_command(CLI::App& app, GlobalOptions& options);
Runner add_resend_command(CLI::App& app, GlobalOptions& options);
Runner add_stats_command(CLI::App& app, GlobalOptions& options);
Runner add_events_command(CLI::App& app, GlobalOptions& options);
Runner add_api_key_command(CLI::App& app, GlobalOptions& options);
Runner add_migrate_command(CLI::App& app, GlobalOptions& options);

}  // namespace attachgate::app
