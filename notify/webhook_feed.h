// notify/webhook_feed.h - turns new catalog events into webhook deliveries.
//
// Events are written by the milter, web and watch processes; the notify
// role alone reads them after its cursor and enqueues one outbox row per
// configured URL, the JSON body as payload, moving the cursor in the same
// transaction, so a crash neither loses nor repeats an event. The queue is
// bounded by max_queue: when receivers are down for long, the oldest
// waiting deliveries are dropped (with a warning), not the disk filled.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "store/catalog_roles.h"
#include "util/result.h"

namespace attachgate::notify {

struct WebhookConfig {
  std::vector<std::string> urls;  // empty: webhooks are off
  std::string secret;
  std::int64_t max_queue = 10000;
  std::int64_t retry_first_seconds = 60;
};

// The JSON body of one event: id, event, at (ISO 8601 UTC), message,
// recipient, detail, remote_addr, and file when the event is about one.
std::string webhook_body(const store::WebhookEvent& event);

class WebhookFeed {
 public:
  WebhookFeed(store::NotifyCatalog& catalog, WebhookConfig config)
      : catalog_(catalog), config_(std::move(config)) {}

  // One batch of new events; returns the rows enqueued. The first pass
  // starts the cursor (or, with no URLs, forgets it, so webhooks configured
  // later start from then, not from now).
  Result<int> run_once(std::int64_t now);

 private:
  store::NotifyCatalog& catalog_;
  WebhookConfig config_;
  bool started_ = false;
};

}  // namespace attachgate::notify
