// app/cmd_check.cc - `attachgate check`: validate both config files.
//
// Every problem in either file is printed as `file:line: message` and the
// exit status is 1; a valid pair prints a short summary of what is in force.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>

#include "app/commands.h"

namespace attachgate::app {

Runner add_check_command(CLI::App& app, GlobalOptions& options) {
  auto* sub = app.add_subcommand("check", "Validate the config and policy files (and flags); "
                                          "print every problem as file:line: message");
  sub->add_flag("--json", options.json, "Print the result as JSON");
  return [&options] {
    auto loaded = load_all(options);
    if (options.json) {
      nlohmann::json out;
      out["ok"] = loaded.ok();
      out["config"] = options.config_path;
      out["policy"] = policy_path(options);
      out["problems"] = nlohmann::json::array();
      if (!loaded.ok()) {
        std::string all = loaded.error().message;
        for (std::size_t start = 0; start < all.size();) {
          std::size_t end = all.find('\n', start);
          if (end == std::string::npos) end = all.size();
          out["problems"].push_back(all.substr(start, end - start));
          start = end + 1;
        }
      } else {
        out["summary"] = loaded->policy->summary();
      }
      std::cout << out.dump(2) << "\n";
      return loaded.ok() ? 0 : 1;
    }
    if (!loaded.ok()) {
      std::cerr << loaded.error().message << "\n";
      return 1;
    }
    const auto& s = loaded->service;
    std::cout << "config: " << s.source << "\n"
              << "  state_dir " << s.state_dir << ", milter " << s.milter_socket << ", http "
              << s.listen << ", links " << s.public_url << "/d/..., metrics "
              << (s.metrics_listen.empty() ? std::string("off") : s.metrics_listen) << "\n"
              << "policy: " << loaded->policy->source << "\n"
              << loaded->policy->summary() << "\n"
              << "ok\n";
    return 0;
  };
}

}  // namespace attachgate::app
