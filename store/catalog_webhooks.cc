// store/catalog_webhooks.cc - the webhook feed's side of the catalog: the
// cursor over the events table, the events webhooks report, and their
// outbox rows with the queue bound.
//
// Events come from several processes and nodes. Each new row gets an id
// above every committed one (SQLite: one writer at a time; PostgreSQL: every
// event insert holds the write lock, see Catalog::add_event_postgres), so
// "id > cursor" never skips a committed event. The
// one exception is ids reused after the newest events were deleted (purge
// forgets old events), handled by pulling the cursor back.
#include <algorithm>

#include "store/catalog.h"
#include "store/catalog_internal.h"

namespace attachgate::store {
namespace {

constexpr const char* kDroppedError = "dropped: more webhooks waiting than [webhooks] max_queue";

}  // namespace

Status Catalog::start_webhook_cursor() {
  std::lock_guard lock(mu_);
  return db_.exec(
      "INSERT INTO webhook_cursor (id, last_event_id)"
      " SELECT 1, coalesce(max(id), 0) FROM events WHERE true ON CONFLICT DO NOTHING");  // WHERE: SQLite's upsert after a SELECT needs one
}

Status Catalog::stop_webhook_cursor() {
  std::lock_guard lock(mu_);
  return db_.exec("DELETE FROM webhook_cursor");
}

Result<std::vector<WebhookEvent>> Catalog::webhook_events(int limit) {
  std::lock_guard lock(mu_);
  Stmt cur(db_,
           "SELECT c.last_event_id, (SELECT coalesce(max(id), 0) FROM events)"
           " FROM webhook_cursor c WHERE c.id = 1");
  auto row = cur.step();
  if (!row) return row.error();
  if (!*row) return std::vector<WebhookEvent>{};  // not started: webhooks are off
  const std::int64_t cursor = cur.int64(0), newest = cur.int64(1);
  if (newest < cursor) {
    // The newest events were deleted, so new ones will reuse their ids.
    Stmt back(db_, "UPDATE webhook_cursor SET last_event_id = ?1 WHERE id = 1");
    if (auto s = back.bind(1, newest).run(); !s) return s.error();
  }
  Stmt st(db_,
          "SELECT e.id, e.message_id, e.file_id, e.link_id, e.kind, e.at, e.recipient,"
          " e.remote_addr, e.user_agent, e.detail, coalesce(m.public_id, ''),"
          " coalesce(m.queue_id, ''), coalesce(m.sender, ''), coalesce(m.subject, ''),"
          " coalesce(f.public_id, ''), coalesce(f.filename, '')"
          " FROM events e LEFT JOIN messages m ON m.id = e.message_id"
          " LEFT JOIN files f ON f.id = e.file_id"
          " WHERE e.id > ?1 AND e.kind IN ('offloaded', 'delivered', 'deferred', 'bounced',"
          "   'opened', 'downloaded')"
          " ORDER BY e.id LIMIT ?2");
  st.bind(1, std::min(cursor, newest)).bind(2, limit);
  std::vector<WebhookEvent> out;
  for (;;) {
    auto r = st.step();
    if (!r) return r.error();
    if (!*r) break;
    WebhookEvent w;
    w.event = read_event(st);
    w.message_public_id = st.text(10);
    w.queue_id = st.text(11);
    w.sender = st.text(12);
    w.subject = st.text(13);
    w.file_public_id = st.text(14);
    w.filename = st.text(15);
    out.push_back(std::move(w));
  }
  return out;
}

Result<std::int64_t> Catalog::enqueue_webhooks(const WebhookBatch& batch) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  for (const auto& item : batch.items)
    if (auto s = insert_outbox(db_, outbox_sealer_ ? &*outbox_sealer_ : nullptr, item); !s)
      return s.error();
  Stmt cur(db_,
           "UPDATE webhook_cursor SET last_event_id = ?1 WHERE id = 1 AND last_event_id < ?1");
  if (auto s = cur.bind(1, batch.last_event_id).run(); !s) return s.error();
  // Oldest first: a receiver that was down longest has the least use for them.
  Stmt drop(db_,
            "UPDATE outbox SET failed_at = ?1, payload = x'', last_error = ?2 WHERE id IN"
            " (SELECT id FROM outbox WHERE kind = 'webhook' AND sent_at IS NULL"
            "  AND failed_at IS NULL ORDER BY id LIMIT (SELECT CASE WHEN n > ?3 THEN n - ?3 ELSE 0 END"
            "   FROM (SELECT count(*) AS n FROM outbox WHERE kind = 'webhook' AND sent_at IS NULL"
            "    AND failed_at IS NULL) waiting))");
  if (auto s = drop.bind(1, batch.now).bind(2, kDroppedError).bind(3, batch.max_queue).run(); !s)
    return s.error();
  const std::int64_t dropped = db_.changes();
  if (auto s = tx.commit(); !s) return s.error();
  return dropped;
}

}  // namespace attachgate::store
