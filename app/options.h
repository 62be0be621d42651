// app/options.h - the options every subcommand shares, and loading by them.
//
// `--config` defaults to conf/attachgate.toml and `--policy` to policy.toml
// beside it. A default file that does not exist means the embedded defaults;
// a file named on the command line must exist. Flags override the file.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "config/policy.h"
#include "config/service_config.h"
#include "store/catalog.h"
#include "store/store.h"
#include "util/result.h"

namespace CLI { class App; }

namespace attachgate::app {

struct GlobalOptions {
  std::string config_path = "conf/attachgate.toml";
  std::optional<std::string> policy_path;
  bool config_given = false;
  config::Overrides overrides;
  bool json = false;
};

void add_global_options(CLI::App& app, GlobalOptions& options);

// Where the policy comes from: --policy, else policy.toml beside the config.
std::string policy_path(const GlobalOptions& options);

struct Loaded {
  config::ServiceConfig service;
  std::shared_ptr<const config::Policy> policy;
};

// Loads both files and applies flags. On problems, the Error lists them all,
// one `file:line: message` a line.
Result<Loaded> load_all(const GlobalOptions& options);
Result<config::ServiceConfig> load_service(const GlobalOptions& options);
// The catalog of the configured state directory, for the admin commands;
// an Error that says what to do when there is none yet (never creates one).
Result<store::Catalog> open_catalog(const GlobalOptions& options);
// The whole store of the configured state directory (created if missing),
// for commands that read blobs; the Error is ready to print.
Result<std::unique_ptr<store::Store>> open_store(const GlobalOptions& options);
// The store as the service config places it: state_dir, the master key,
// [catalog] and [blobs]. For every role and command that opens one.
Result<std::unique_ptr<store::Store>> open_store(const config::ServiceConfig& service);

}  // namespace attachgate::app
