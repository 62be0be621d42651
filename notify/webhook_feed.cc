// notify/webhook_feed.cc - see webhook_feed.h.
#include "notify/webhook_feed.h"

#include <nlohmann/json.hpp>

#include "util/log.h"
#include "util/units.h"

namespace attachgate::notify {
namespace {

constexpr int kBatch = 500;

}  // namespace

std::string webhook_body(const store::WebhookEvent& w) {
  const store::EventRecord& e = w.event;
  nlohmann::json body{
      {"id", e.id},
      {"event", std::string(store::to_string(e.kind))},
      {"at", format_iso_time(e.at)},
      {"message",
       {{"id", w.message_public_id},
        {"queue_id", w.queue_id},
        {"sender", w.sender},
        {"subject", w.subject}}},
      {"recipient", e.recipient},
      {"detail", e.detail},
      {"remote_addr", e.remote_addr},
  };
  if (!w.file_public_id.empty()) body["file"] = {{"id", w.file_public_id}, {"name", w.filename}};
  // Text from mail may be any bytes; replace what is not UTF-8 rather than throw.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<int> WebhookFeed::run_once(std::int64_t now) {
  if (!started_) {
    auto s = config_.urls.empty() ? catalog_.stop_webhook_cursor()
                                  : catalog_.start_webhook_cursor();
    if (!s) return s.error();
    started_ = true;
  }
  if (config_.urls.empty()) return 0;
  auto events = catalog_.webhook_events(kBatch);
  if (!events) return events.error();
  if (events->empty()) return 0;
  store::WebhookBatch batch;
  batch.max_queue = config_.max_queue;
  batch.now = now;
  for (const auto& event : *events) {
    const std::string body = webhook_body(event);
    for (const auto& url : config_.urls)
      batch.items.push_back({store::OutboxKind::webhook, event.event.message_id, url, body, now});
    batch.last_event_id = event.event.id;
  }
  auto dropped = catalog_.enqueue_webhooks(batch);
  if (!dropped) return dropped.error();
  if (*dropped > 0)
    log_warn("webhooks: " + std::to_string(*dropped) +
             " oldest waiting deliveries dropped: more than " + std::to_string(config_.max_queue) +
             " waiting ([webhooks] max_queue)");
  return static_cast<int>(batch.items.size());
}

}  // namespace attachgate::notify
