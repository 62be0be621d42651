// store/catalog_outbox.cc - the outbox: receipts, download notices and
// webhooks waiting to go out. Rows are written in the transaction of what
// caused them (an offload, a download), so a crash loses none; a sender
// process takes due rows and marks each one. Sent rows keep their metadata
// for the audit trail but lose the payload, which may hold an access code.
// Payloads are sealed before they are written (sealer.h): SQLite's WAL and
// free pages, and backups, keep what a row once held.
#include "store/catalog.h"
#include "store/catalog_internal.h"

namespace attachgate::store {
namespace {

// What a sealed payload is bound to: its row and what the row says to do
// with it, so a payload cannot be moved to another row or retargeted.
std::string row_binding(std::int64_t id, std::string_view kind,
                        std::optional<std::int64_t> message_id, std::string_view target) {
  std::string ad = "attachgate outbox v1";
  ad += '\0';
  ad += std::to_string(id);
  ad += '\0';
  ad += kind;
  ad += '\0';
  ad += message_id ? std::to_string(*message_id) : "-";
  ad += '\0';
  ad += target;
  return ad;
}

// A row sent: its payload (perhaps a code) and its copy's blob id go; a
// row sent already changes nothing (db.changes() tells).
Status mark_sent(Db& db, std::int64_t id, std::int64_t now) {
  Stmt st(db,
          "UPDATE outbox SET sent_at = ?2, payload = x'', attempts = attempts + 1, last_error = '',"
          " blob_id = NULL WHERE id = ?1 AND sent_at IS NULL");
  return st.bind(1, id).bind(2, now).run();
}

// When the milter dies between releasing an offload's recipient copies
// and answering the MTA, the MTA tempfails the message and the client
// sends it again: a second offload, and the recipient may get a copy of
// each. The earlier one is another message of the same sender and
// Message-ID with a copy for this recipient released (not held); its
// "queue id X" or "" when there is none.
Result<std::string> earlier_attempt(Db& db, std::int64_t message_id, const std::string& recipient) {
  Stmt st(db,
          // Written so that each step is an index lookup (messages_header_id,
          // a partial index, needs the != '' on `other` itself; then
          // outbox_message): this runs for every copy sent.
          "SELECT other.queue_id FROM messages this"
          " JOIN messages other ON other.sender = this.sender"
          "  AND other.header_message_id = this.header_message_id"
          " WHERE this.id = ?1 AND other.header_message_id != '' AND other.id != this.id"
          "  AND EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = other.id"
          "   AND o.kind = 'recipient copy' AND lower(o.target) = lower(?2)"
          "   AND o.next_attempt_at != ?3)"
          " ORDER BY other.id LIMIT 1");
  auto row = st.bind(1, message_id).bind(2, recipient).bind(3, kOutboxHeld).step();
  if (!row) return row.error();
  if (!*row) return std::string();
  return "queue id " + st.text(0);
}

}  // namespace

Status insert_outbox(Db& db, const Sealer* sealer, const NewOutboxItem& item,
                     std::optional<std::int64_t> link_id) {
  if (sealer == nullptr) return make_error("catalog: the outbox key is not set");
  // The row id is part of the associated data, so the row is made first,
  // empty, and its sealed payload set in the same transaction.
  const std::string_view kind = to_string(item.kind);
  Stmt st(db,
          "INSERT INTO outbox (kind, message_id, target, payload, next_attempt_at, created_at,"
          " blob_id, link_id) VALUES (?1, ?2, ?3, x'', ?4, ?4, ?5, ?6)");
  st.bind(1, kind).bind(2, item.message_id).bind(3, item.target).bind(4, item.now).bind(6, link_id);
  if (item.blob_id.empty()) st.bind_null(5);
  else st.bind(5, item.blob_id);
  if (auto s = st.run(); !s) return s;
  const std::int64_t id = db.last_insert_id();
  Stmt seal(db, "UPDATE outbox SET payload = ?2, next_attempt_at = ?3 WHERE id = ?1");
  seal.bind(1, id)
      .bind_blob(2, sealer->seal(item.payload, row_binding(id, kind, item.message_id, item.target)))
      .bind(3, item.held ? kOutboxHeld : item.now);
  return seal.run();
}

Status Catalog::set_outbox_key(const Key& key) {
  std::lock_guard lock(mu_);
  outbox_sealer_.emplace(key);
  // Rows an older attachgate wrote in clear, still waiting: sealed now. Sent
  // and given-up rows have no payload left.
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s;
  Stmt rows(db_,
            "SELECT id, kind, message_id, target, payload FROM outbox"
            " WHERE sent_at IS NULL AND failed_at IS NULL AND length(payload) > 0");
  for (;;) {
    auto row = rows.step();
    if (!row) return row.error();
    if (!*row) break;
    const std::string payload = rows.text(4);
    if (Sealer::looks_sealed(payload)) continue;
    const std::int64_t id = rows.int64(0);
    Stmt seal(db_, "UPDATE outbox SET payload = ?2 WHERE id = ?1");
    seal.bind(1, id).bind_blob(
        2, outbox_sealer_->seal(payload, row_binding(id, rows.text(1), rows.opt_int64(2),
                                                     rows.text(3))));
    if (auto s = seal.run(); !s) return s;
  }
  return tx.commit();
}

Result<std::int64_t> Catalog::enqueue(const NewOutboxItem& item) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  if (auto s = insert_outbox(db_, outbox_sealer_ ? &*outbox_sealer_ : nullptr, item); !s)
    return s.error();
  const std::int64_t id = db_.last_insert_id();
  if (auto s = tx.commit(); !s) return s.error();
  return id;
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
  return read_due_outbox(now, limit, webhooks, false);
}

// On PostgreSQL several nodes' notifiers read the same outbox: the rows
// read are claimed in the same transaction (moved kOutboxClaimSeconds
// ahead), so no other node takes them while this one sends. A SQLite
// catalog serves one node, whose single notifier needs no claim.
Result<std::vector<OutboxItem>> Catalog::claim_due_outbox(std::int64_t now, int limit,
                                                          std::optional<bool> webhooks) {
  return read_due_outbox(now, limit, webhooks, engine() == Engine::postgres);
}

Result<std::vector<OutboxItem>> Catalog::read_due_outbox(std::int64_t now, int limit,
                                                         std::optional<bool> webhooks, bool claim) {
  std::lock_guard lock(mu_);
  if (!outbox_sealer_) return make_error("catalog: the outbox key is not set");
  Transaction tx(db_);
  if (claim)
    if (auto s = tx.begin(); !s) return s.error();
  Stmt st(db_,
          "SELECT id, kind, message_id, target, payload, attempts, created_at, blob_id, link_id,"
          " last_error = ?4 FROM outbox"
          " WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ?1"
          " AND (?3 IS NULL OR CASE WHEN kind = 'webhook' THEN 1 ELSE 0 END = ?3)"
          " ORDER BY next_attempt_at, id LIMIT ?2");
  st.bind(1, now).bind(2, limit).bind(4, kAttemptUnsettled);
  if (webhooks) st.bind(3, *webhooks ? 1 : 0);
  else st.bind_null(3, SqlType::integer);
  std::vector<OutboxItem> out;
  for (;;) {
    auto row = st.step();
    if (!row) return row.error();
    if (!*row) break;
    OutboxItem item{st.int64(0), enum_column(st, 1, outbox_kind_from, "outbox.kind"), st.opt_int64(2), st.text(3), "",
                    static_cast<int>(st.int64(5)), st.int64(6), "",
                    st.opt_text(7).value_or(""), st.opt_int64(8), st.int64(9) != 0};
    auto payload = outbox_sealer_->open(
        st.text(4), row_binding(item.id, st.text(1), item.message_id, item.target));
    if (payload) item.payload = std::move(*payload);
    else item.unreadable = "payload " + payload.error().message;
    out.push_back(std::move(item));
  }
  if (claim) {
    for (const OutboxItem& item : out) {
      Stmt take(db_, "UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1");
      if (auto s = take.bind(1, item.id).bind(2, now + kOutboxClaimSeconds).run(); !s)
        return s.error();
    }
    if (auto s = tx.commit(); !s) return s.error();
  }
  return out;
}

Status Catalog::hand_back_outbox(const std::vector<std::int64_t>& ids, std::int64_t claimed_at) {
  std::lock_guard lock(mu_);
  for (const std::int64_t id : ids) {
    Stmt st(db_,
            "UPDATE outbox SET next_attempt_at = ?2"
            " WHERE id = ?1 AND next_attempt_at = ?3 AND sent_at IS NULL AND failed_at IS NULL");
    if (auto s = st.bind(1, id).bind(2, claimed_at).bind(3, claimed_at + kOutboxClaimSeconds).run(); !s)
      return s;
  }
  return {};
}

Status Catalog::outbox_sent(std::int64_t id, std::int64_t now) {
  std::lock_guard lock(mu_);
  return mark_sent(db_, id, now);
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
          " last_error = ?3, blob_id = NULL WHERE id = ?1");
  return st.bind(1, id).bind(2, now).bind(3, error).run();
}

Status Catalog::outbox_attempt(std::int64_t id) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "UPDATE outbox SET last_error = ?2 WHERE id = ?1 AND sent_at IS NULL");
  return st.bind(1, id).bind(2, kAttemptUnsettled).run();
}

Status Catalog::copy_queued(const OutboxItem& item, const std::string& queue_id,
                            std::int64_t now) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  if (auto s = mark_sent(db_, item.id, now); !s) return s;
  if (db_.changes() == 0) return {};  // marked already: nothing more to record
  if (item.link_id) {
    Stmt link(db_, "UPDATE links SET queue_id = ?2 WHERE id = ?1");
    if (auto s = link.bind(1, *item.link_id).bind(2, queue_id).run(); !s) return s;
  }
  EventRecord e;
  e.message_id = item.message_id;
  e.link_id = item.link_id;
  e.kind = EventKind::queued;
  e.at = now;
  e.recipient = item.target;
  const std::string what = item.kind == OutboxKind::fresh_link ? "new link" : "copy";
  e.detail = queue_id.empty() ? what + " handed to the MTA" : what + " queued as " + queue_id;
  if (item.interrupted)
    e.detail += "; sent again after an attempt that was cut off, perhaps after the MTA had "
                "taken it: this recipient may get the " + what + " twice";
  if (item.kind == OutboxKind::recipient_copy && item.message_id) {
    auto earlier = earlier_attempt(db_, *item.message_id, item.target);
    if (!earlier) return earlier.error();
    if (!earlier->empty())
      e.detail += "; an earlier attempt at this message (" + *earlier +
                  ") released a copy for this recipient before the MTA tempfailed it: this "
                  "recipient may get the mail twice";
  }
  if (auto s = insert_event(db_, e); !s) return s;
  return tx.commit();
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
