// app/web_role.cc - see web_role.h. Opens everything after fork, so no
// descriptor or SQLite connection is shared with the milter child.
#include "app/web_role.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <memory>
#include <mutex>
#include <thread>

#include "app/metrics_files.h"
#include "app/options.h"
#include "store/purge.h"
#include "store/store.h"
#include "util/log.h"
#include "util/units.h"
#include "web/handler.h"
#include "web/metrics_site.h"
#include "web/server.h"

namespace attachgate::app {
namespace {

constexpr std::chrono::minutes kPurgeInterval{10};

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

// Runs purge now and then every kPurgeInterval until stopped.
class PurgeLoop {
 public:
  PurgeLoop(store::Store& store, std::int64_t retention) : store_(store), retention_(retention) {
    thread_ = std::thread([this] { run(); });
  }
  ~PurgeLoop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      auto report = store::purge(store_.blobs, store_.catalog, unix_now(), retention_);
      if (!report) log_warn("purge: " + report.error().message);
      else if (report->files > 0 || report->forgotten.messages > 0)
        log_info("purge: removed " + std::to_string(report->files) + " files (" +
                 format_size(report->bytes) + "), forgot " +
                 std::to_string(report->forgotten.messages) + " old messages");
      if (report)
        for (const auto& p : report->problems) log_warn("purge: " + p);
      lock.lock();
      cv_.wait_for(lock, kPurgeInterval, [this] { return stop_; });
    }
  }

  store::Store& store_;
  std::int64_t retention_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace

int web_role(const Loaded& loaded, int control_fd) {
  const config::ServiceConfig& service = loaded.service;
  auto pages = web::PageRenderer::load(service.templates_dir);
  if (!pages) {
    log_warn(pages.error().message);
    return 2;
  }
  auto store = open_store(service);
  if (!store) {
    log_warn(store.error().message);
    return 2;
  }
  web::HandlerConfig handler_config;
  handler_config.resume_grace_seconds = service.limits.http_resume_grace_seconds;
  handler_config.milter_metrics_file = milter_metrics_file(service.state_dir);
  handler_config.api.key_hashes = service.api.keys;
  handler_config.api.public_url = service.public_url;
  handler_config.api.max_upload = service.limits.api_max_upload;
  handler_config.api.default_expiration_days = service.api.default_expiration_days;
  handler_config.api.max_expiration_days = service.api.max_expiration_days;
  handler_config.api.max_downloads = service.api.max_downloads;
  web::Handler handler(**store, std::make_shared<const web::PageRenderer>(std::move(*pages)),
                       handler_config);
  web::ServerConfig server_config;
  server_config.listen = service.listen;
  server_config.max_connections = service.limits.http_max_connections;
  server_config.timeout = std::chrono::seconds(service.limits.http_timeout_seconds);
  server_config.max_header_bytes = service.limits.http_max_header_bytes;
  // Code checks get at most half the cores, so a flood of them leaves the
  // rest to pages and downloads.
  server_config.code_check_threads =
      std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 2);
  auto server = web::Server::bind(server_config, handler);
  if (!server) {
    log_warn(server.error().message);
    return 2;
  }
  // /metrics on its own listener (loopback by default), not the public port.
  web::MetricsSite metrics_site(handler);
  std::unique_ptr<web::Server> metrics_server;
  if (!service.metrics_listen.empty()) {
    web::ServerConfig metrics_config;
    metrics_config.listen = service.metrics_listen;
    metrics_config.max_connections = 64;
    metrics_config.timeout = server_config.timeout;
    metrics_config.threads = 1;
    metrics_config.work_threads = 1;
    metrics_config.code_check_threads = 0;
    auto bound = web::Server::bind(metrics_config, metrics_site);
    if (!bound) {
      log_warn("[metrics] " + bound.error().message);
      return 2;
    }
    metrics_server = std::move(*bound);
  }
  std::thread control;
  if (control_fd >= 0) {
    control = std::thread([&, control_fd] {
      char c;
      for (;;) {
        ssize_t n = ::read(control_fd, &c, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the supervisor asks us to stop
        if (c != 'R') continue;
        auto fresh = web::PageRenderer::load(service.templates_dir);
        if (!fresh) {
          log_warn("reload refused, the old page templates stay in force: " + fresh.error().message);
          continue;
        }
        handler.set_pages(std::make_shared<const web::PageRenderer>(std::move(*fresh)));
        log_info("reloaded page templates");
      }
      (*server)->stop();
      if (metrics_server) metrics_server->stop();
    });
  }
  std::thread metrics_thread;
  if (metrics_server) {
    log_info("metrics listening on " + metrics_server->local_address() + " (GET /metrics)");
    metrics_thread = std::thread([&] { metrics_server->run(); });
  }
  {
    PurgeLoop purge(**store, service.event_retention_seconds);
    log_info("web server listening on " + (*server)->local_address() + ", links as " +
             service.public_url + "/d/...");
    (*server)->run();
  }
  if (control.joinable()) control.join();
  if (metrics_thread.joinable()) metrics_thread.join();
  log_info("web server stopped");
  return 0;
}

}  // namespace attachgate::app
