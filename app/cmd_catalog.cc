// app/cmd_catalog.cc - `attachgate list` and `attachgate show ID`: read the
// catalog under the configured state directory. Read-only: they never create
// a state directory or a master key that is not there.
#include <CLI/CLI.hpp>

#include <ctime>
#include <iostream>

#include "app/commands.h"
#include "app/render.h"
#include "store/catalog.h"

namespace attachgate::app {

Runner add_list_command(CLI::App& app, GlobalOptions& options) {
  auto* sub = app.add_subcommand("list", "List recent messages whose attachments were offloaded");
  static int limit = 50;
  sub->add_option("-n,--limit", limit, "How many messages, newest first")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  sub->add_flag("--json", options.json, "Print a JSON array");
  return [&options] {
    auto catalog = open_catalog(options);
    if (!catalog) {
      std::cerr << "attachgate: " << catalog.error().message << "\n";
      return 2;
    }
    auto messages = catalog->list_messages(limit);
    if (!messages) {
      std::cerr << "attachgate: " << messages.error().message << "\n";
      return 2;
    }
    std::cout << (options.json ? json_text(list_json(*messages)) : list_text(*messages));
    return 0;
  };
}

Runner add_show_command(CLI::App& app, GlobalOptions& options) {
  auto* sub = app.add_subcommand("show", "Show one message: recipients, files, links (one per recipient, or one for all "
                 "recipients) with their state, expiry and downloads per file, and events");
  static std::string id;
  sub->add_option("ID", id, "Message id (from list or the X-Attachgate header) or Postfix queue id")
      ->required();
  sub->add_flag("--json", options.json, "Print a JSON object");
  return [&options] {
    auto catalog = open_catalog(options);
    if (!catalog) {
      std::cerr << "attachgate: " << catalog.error().message << "\n";
      return 2;
    }
    auto detail = catalog->show_message(id);
    if (!detail) {
      std::cerr << "attachgate: " << detail.error().message << "\n";
      return 2;
    }
    if (!*detail) {
      std::cerr << "attachgate: no message with id or queue id '" << id
                << "' (see attachgate list)\n";
      return 1;
    }
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    std::cout << (options.json ? json_text(show_json(**detail, now)) : show_text(**detail, now));
    return 0;
  };
}

}  // namespace attachgate::app
