// app/notify_role.cc - see notify_role.h.
#include "app/notify_role.h"
#include "app/options.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "notify/notifier.h"
#include "store/store.h"
#include "util/log.h"

namespace attachgate::app {
namespace {

constexpr int kPollMillis = 2000;

// Waits up to `millis` for the control pipe: 'R', end of file (stop) or
// nothing. Returns false when the role should stop.
bool wait_control(int control_fd, int millis, bool& reload) {
  if (control_fd < 0) {
    ::usleep(static_cast<useconds_t>(millis) * 1000);
    return true;
  }
  pollfd p{control_fd, POLLIN, 0};
  const int n = ::poll(&p, 1, millis);
  if (n <= 0) return true;  // timeout, or EINTR: look at the outbox again
  char c;
  const ssize_t got = ::read(control_fd, &c, 1);
  if (got < 0 && errno == EINTR) return true;
  if (got <= 0) return false;
  reload = reload || c == 'R';
  return true;
}

}  // namespace

int notify_role(const Loaded& loaded, int control_fd) {
  const config::ServiceConfig& service = loaded.service;
  auto mail = notify::SenderMail::load(service.templates_dir);
  if (!mail) {
    log_warn(mail.error().message);
    return 2;
  }
  auto store = open_store(service);
  if (!store) {
    log_warn(store.error().message);
    return 2;
  }
  notify::CurlSmtp relay(service.relay.url);
  notify::Notifier notifier(**store, std::make_shared<const notify::SenderMail>(std::move(*mail)),
                            relay, notify::NotifierConfig{service.public_url, service.relay.from},
                            [] { return static_cast<std::int64_t>(std::time(nullptr)); });
  log_info("notifier sending receipts and download notices through " + service.relay.url);
  notify::CurlSmtp injector(service.relay.copies_url());
  notifier.set_injector(injector);
  log_info("notifier injecting recipient copies through " + injector.url());
  notify::CurlWebhook webhooks;
  if (!service.webhooks.urls.empty()) {
    const config::Webhooks& w = service.webhooks;
    notifier.enable_webhooks(webhooks, {w.urls, w.secret, w.max_queue, w.retry_first_seconds});
    log_info("notifier sending webhooks to " + std::to_string(w.urls.size()) + " URL(s)");
  }
  for (;;) {
    // A full batch means a backlog (a burst of recipient copies, say): the
    // next pass starts at once instead of after the poll pause.
    auto pass = notifier.run_once();
    if (!pass) log_warn("outbox: " + pass.error().message);
    bool reload = false;
    if (!wait_control(control_fd, pass && pass->more ? 0 : kPollMillis, reload)) break;
    if (!reload) continue;
    auto fresh = notify::SenderMail::load(service.templates_dir);
    if (!fresh) {
      log_warn("reload refused, the old mail templates stay in force: " + fresh.error().message);
      continue;
    }
    notifier.set_mail(std::make_shared<const notify::SenderMail>(std::move(*fresh)));
    log_info("reloaded mail templates");
  }
  log_info("notifier stopped");
  return 0;
}

}  // namespace attachgate::app
