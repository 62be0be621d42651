// app/cmd_purge.cc - `attachgate purge`: what `web` and `run` do every ten
// minutes, on demand. Removes the blobs of expired, revoked and used-up
// links (never one whose download may still be resumed) and forgets
// messages whose links ended more than event_retention ago.
#include <CLI/CLI.hpp>

#include <ctime>
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/options.h"
#include "store/purge.h"
#include "store/store.h"
#include "util/units.h"

namespace attachgate::app {

Runner add_purge_command(CLI::App& app, GlobalOptions& options) {
  auto* sub = app.add_subcommand(
      "purge", "Delete the files of expired, revoked and used-up links now, and forget messages "
               "older than event_retention (the web server also does this every 10 minutes)");
  sub->add_flag("--json", options.json, "Print the summary as JSON");
  return [&options] {
    auto service = load_service(options);
    if (!service) {
      std::cerr << service.error().message << "\n";
      return 2;
    }
    auto store = open_store(*service);
    if (!store) {
      std::cerr << "attachgate: " << store.error().message << "\n";
      return 2;
    }
    // Progress goes to stderr, so --json output stays one document.
    auto progress = [](const store::PurgeCandidate& f, int done, int total) {
      std::cerr << "purge: " << done << "/" << total << " " << f.blob_id << " ("
                << format_size(f.size) << ", " << to_string(f.reason) << ")\n";
    };
    auto report = store::purge((*store)->blobs, (*store)->catalog,
                               static_cast<std::int64_t>(std::time(nullptr)),
                               service->event_retention_seconds, progress);
    if (!report) {
      std::cerr << "attachgate: purge: " << report.error().message << "\n";
      return 2;
    }
    for (const auto& p : report->problems) std::cerr << "attachgate: purge: " << p << "\n";
    if (report->elsewhere)
      std::cerr << "attachgate: purge: another node is purging this catalog now; nothing done\n";
    if (options.json) {
      nlohmann::json j{{"files", report->files},
                       {"bytes", report->bytes},
                       {"messages_forgotten", report->forgotten.messages},
                       {"events_forgotten", report->forgotten.events},
                       {"problems", report->problems},
                       {"another_node_purging", report->elsewhere}};
      std::cout << j.dump(2) << "\n";
    } else {
      std::cout << "purged " << report->files << " files (" << format_size(report->bytes)
                << "); forgot " << report->forgotten.messages << " messages and "
                << report->forgotten.events << " events\n";
    }
    return report->problems.empty() ? 0 : 1;
  };
}

}  // namespace attachgate::app
