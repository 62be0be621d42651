// app/options.cc - see options.h.
#include "app/options.h"

#include <CLI/CLI.hpp>
#include <sys/stat.h>

namespace attachgate::app {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

void add_global_options(CLI::App& app, GlobalOptions& o) {
  app.add_option("-c,--config", o.config_path,
                 "Service settings (TOML). Default conf/attachgate.toml; if that file does "
                 "not exist, the embedded defaults")
      ->each([&o](const std::string&) { o.config_given = true; });
  app.add_option("-p,--policy", o.policy_path,
                 "Policy rules (TOML). Default: policy.toml beside the config file; if that "
                 "does not exist, the embedded default policy");
  app.add_option("--state-dir", o.overrides.state_dir, "Override state_dir (catalog, blobs, keys)");
  app.add_option("--master-key-file", o.overrides.master_key_file,
                 "Override master_key_file: a path, or credential:NAME for a systemd "
                 "credential (LoadCredential=NAME:...)");
  app.add_option("--milter-socket", o.overrides.milter_socket,
                 "Override the milter socket, e.g. unix:./var/milter.sock or inet:8891@127.0.0.1");
  app.add_option("--listen", o.overrides.listen, "Override the HTTP listen address, host:port");
  app.add_option("--metrics-listen", o.overrides.metrics_listen,
                 "Override [metrics] listen: where GET /metrics is served, host:port");
  app.add_option("--public-url", o.overrides.public_url,
                 "Override the public base URL put in links, e.g. https://files.example.org");
  app.add_option("--relay", o.overrides.relay,
                 "Override [notify] relay: where receipts and download notices go, e.g. "
                 "smtp://127.0.0.1:25");
  app.add_option("--postfix-log", o.overrides.postfix_log,
                 "Override [watch] postfix_log: the Postfix log the delivery watcher follows");
}

std::string policy_path(const GlobalOptions& o) {
  return o.policy_path ? *o.policy_path : dir_of(o.config_path) + "/policy.toml";
}

Result<config::ServiceConfig> load_service(const GlobalOptions& o) {
  std::vector<config::Problem> problems = config::check_overrides(o.overrides);
  config::ServiceConfig service;
  if (o.config_given || exists(o.config_path)) {
    auto loaded = config::load_service_config(o.config_path);
    problems.insert(problems.end(), loaded.problems.begin(), loaded.problems.end());
    if (loaded.value) service = *loaded.value;
  }
  if (!problems.empty()) return make_error(config::format_problems(problems));
  return config::apply(std::move(service), o.overrides);
}

Result<Loaded> load_all(const GlobalOptions& o) {
  auto service = load_service(o);
  std::string errors = service ? "" : service.error().message;
  std::shared_ptr<const config::Policy> policy;
  const std::string path = policy_path(o);
  if (o.policy_path || exists(path)) {
    auto loaded = config::load_policy(path);
    if (loaded.ok()) {
      policy = std::make_shared<const config::Policy>(std::move(*loaded.value));
    } else {
      if (!errors.empty()) errors += "\n";
      errors += config::format_problems(loaded.problems);
    }
  } else {
    policy = std::make_shared<const config::Policy>(config::default_policy());
  }
  if (!errors.empty()) return make_error(errors);
  return Loaded{std::move(*service), std::move(policy)};
}

namespace {

store::CatalogLocation catalog_location(const config::ServiceConfig& service) {
  return {service.catalog_url, service.catalog_password_file};
}

}  // namespace

Result<store::Catalog> open_catalog(const GlobalOptions& options) {
  auto service = load_service(options);
  if (!service) return service.error();
  const store::CatalogLocation location = catalog_location(*service);
  const std::string url = store::catalog_url(location, service->state_dir);
  if (!store::Db::is_postgres_url(url)) {
    const std::string path = url.starts_with("sqlite:") ? url.substr(7) : url;
    if (!exists(path))
      return make_error(path + ": no catalog yet (state_dir is " + service->state_dir +
                        "; start attachgate once, or pass --state-dir)");
  }
  auto password = store::load_catalog_password(location);
  if (!password) return password.error();
  return store::Catalog::open(url, *password);
}

Result<std::unique_ptr<store::Store>> open_store(const config::ServiceConfig& service) {
  return store::Store::open(service.state_dir, service.master_key_file, catalog_location(service),
                            {service.blobs_url, service.blobs_credentials_file});
}

Result<std::unique_ptr<store::Store>> open_store(const GlobalOptions& options) {
  auto service = load_service(options);
  if (!service) return service.error();
  auto store = open_store(*service);
  if (!store) return make_error("attachgate: " + store.error().message);
  return store;
}

}  // namespace attachgate::app
