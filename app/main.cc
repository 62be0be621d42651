// app/main.cc - the attachgate executable: parse the command line, run one
// subcommand. The roles (milter, web) and the admin commands live in their
// own files; this file only wires them.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <vector>

#include "app/commands.h"
#include "app/options.h"

int main(int argc, char** argv) {
  using namespace attachgate::app;
  CLI::App app{
      "attachgate - takes large or sensitive attachments out of outbound mail and\n"
      "replaces them with one-time, expiring download links.\n\n"
      "Configuration: conf/attachgate.toml (service) and conf/policy.toml (rules);\n"
      "without them the embedded defaults apply, with state under ./var.",
      "attachgate"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "attachgate 0.1.0");
  GlobalOptions options;
  add_global_options(app, options);
  app.add_flag("--json", options.json, "Print reports as JSON for scripts");

  std::vector<std::pair<CLI::App*, Runner>> commands;
  auto add = [&](Runner (*fn)(CLI::App&, GlobalOptions&)) {
    std::size_t before = app.get_subcommands({}).size();
    Runner run = fn(app, options);
    commands.emplace_back(app.get_subcommands({})[before], std::move(run));
  };
  add(add_check_command);
  add(add_list_command);
  add(add_show_command);
  add(add_export_command);
  add(add_milter_command);
  add(add_web_command);
  add(add_run_command);
  add(add_watch_command);
  add(add_purge_command);
  add(add_revoke_command);
  add(add_extend_command);
  add(add_resend_command);
  add(add_stats_command);
  add(add_events_command);
  add(add_api_key_command);
  add(add_migrate_command);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (auto& [sub, run] : commands)
    if (sub->parsed()) return run();
  return 2;
}
