// store/catalog_outbox.cc - the outbox: receipts, download notices and
// webhooks waiting to go out. Rows are written in the transaction of what
// caused them (an offload, a download), so a crash loses none; a sender
// process takes due rows and marks each one. Sent rows keep their metadata
// for the audit trail but lose the payload, which may hold an access code.
#include "store/catalog.h"
#include "store/catalog_internal.h"

namespace attachgate::store {
namespace {

OutboxKind kind_of(const Stmt& st, int col) {
  auto kind = outbox_kind_from(st.text(col));
  if (!kind) panic("outbox row of a kind the schema does not allow");
  return *kind;
}

}  // namespace

Result<std::int64_t> Catalog::enqueue(const NewOutboxItem& item) {
  std::lock_guard lock(mu_);
  if (auto s = insert_outbox(db_, item); !s) return s.error();
  return db_.last_insert_id();
}

Status Catalog::release_outbox(std::int64_t message_id, std::int64_t now) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "UPDATE outbox SET next_attempt_at = ?2"
          " WHERE message_id = ?1 AND next_attempt_at = ?3 AND sent_at IS NULL");
  return st.bind(1, message_id).bind(2, now).bind(3, kOutboxHeld).run();
}

Result<std::vector<OutboxItem>> Catalog::due_outbox(std::int64_t now, int limit,
                                                    std::optional<bool> webhooks) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "SELECT id, kind, message_id, target, payload, attempts, created_at FROM outbox"
          " WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?1"
          " AND (?3 IS NULL OR (kind = 'webhook') = ?3)"
          " ORDER BY next_attempt_at, id LIMIT ?2");
  st.bind(1, now).bind(2, limit);
  if (webhooks) st.bind(3, *webhooks ? 1 : 0);
  else st.bind_null(3);
  std::vector<OutboxItem> out;
  for (;;) {
    auto row = st.step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(OutboxItem{st.int64(0), kind_of(st, 1), st.opt_int64(2), st.text(3),
                             st.text(4), static_cast<int>(st.int64(5)), st.int64(6)});
  }
  return out;
}

Status Catalog::outbox_sent(std::int64_t id, std::int64_t now) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "UPDATE outbox SET sent_at = ?2, payload = x'', attempts = attempts + 1, last_error = ''"
          " WHERE id = ?1");
  return st.bind(1, id).bind(2, now).run();
}

Status Catalog::outbox_retry(std::int64_t id, std::int64_t next_attempt_at,
                             const std::string& error) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3"
          " WHERE id = ?1");
  return st.bind(1, id).bind(2, next_attempt_at).bind(3, error).run();
}

Status Catalog::outbox_give_up(std::int64_t id, std::int64_t now, const std::string& error) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "UPDATE outbox SET failed_at = ?2, payload = x'', attempts = attempts + 1,"
          " last_error = ?3 WHERE id = ?1");
  return st.bind(1, id).bind(2, now).bind(3, error).run();
}

Result<std::int64_t> Catalog::outbox_depth(OutboxKind kind) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "SELECT count(*) FROM outbox WHERE kind = ?1 AND sent_at IS NULL AND failed_at IS NULL");
  auto row = st.bind(1, to_string(kind)).step();
  if (!row) return row.error();
  return st.int64(0);
}

}  // namespace attachgate::store
