// store/webhook_records.h - what the webhook feed reads from the catalog.
//
// A WebhookEvent is one event row with the message and file it belongs to,
// everything a webhook body says. Sender, subject, recipient and file name
// came from mail (and detail from a remote server): untrusted text that the
// body carries as JSON strings, escaped by the JSON writer. Tokens and
// access codes are not here, and never go into a webhook.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/records.h"

namespace attachgate::store {

struct WebhookEvent {
  EventRecord event;
  // Empty when the event has no message (or it was forgotten meanwhile).
  std::string message_public_id, queue_id, sender, subject;
  // Empty when the event is not about one file.
  std::string file_public_id, filename;
};

// What one pass of the feed hands back: rows for the outbox, and the id of
// the last event they cover, saved as the cursor in the same transaction.
struct WebhookBatch {
  std::vector<NewOutboxItem> items;
  std::int64_t last_event_id = 0;
  std::int64_t max_queue = 10000;  // waiting webhook rows kept at most
  std::int64_t now = 0;
};

}  // namespace attachgate::store
