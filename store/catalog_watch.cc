// store/catalog_watch.cc - the delivery watcher's side of the catalog:
// Postfix's delivered / deferred / bounced per recipient, and the watcher's
// place in the log.
//
// A batch of log lines and the position after it commit in one transaction,
// so a restart continues exactly where the last commit ended. Text from the
// log (recipient, relay, remote reply) is untrusted: it is cleaned of
// control characters and bounded before it is stored.
#include <string>

#include "store/catalog.h"
#include "util/text.h"

namespace attachgate::store {
namespace {

// Postfix queue ids are reused in time (the short form is built from the
// clock and an inode number), so only a message recorded shortly before the
// log line can be the one meant. Mail stays queued 5 days by default; a day
// ahead allows for a log clock that is off.
constexpr std::int64_t kQueueLifetime = 30 * 86400;
constexpr std::int64_t kClockSlack = 86400;

std::string delivery_detail(const DeliveryReport& r) {
  std::string detail;
  auto add = [&](const std::string& part) {
    if (part.empty()) return;
    if (!detail.empty()) detail += "; ";
    detail += part;
  };
  if (!r.relay.empty()) add("relay=" + r.relay);
  if (!r.dsn.empty()) add("dsn=" + r.dsn);
  add(r.reply);
  return clean_display_text(detail, 500);
}

// One event per message with the report's queue id: the message the milter
// handled under it, or the recipient copy the notify role injected as it
// (then the event names the copy's link). The same event twice (a log read
// again after its position was lost) is recorded once.
Result<int> insert_delivery(Db& db, const DeliveryReport& r) {
  if (r.queue_id.empty()) return 0;
  int recorded = 0;
  for (const char* source :
       {"SELECT m.id AS message_id, CAST(NULL AS BIGINT) AS link_id FROM messages m"
        " WHERE m.queue_id = ?1 AND m.created_at BETWEEN ?3 - ?6 AND ?3 + ?7",
        "SELECT l.message_id AS message_id, l.id AS link_id FROM links l"
        " WHERE l.queue_id = ?1 AND l.created_at BETWEEN ?3 - ?6 AND ?3 + ?7"}) {
    const std::string sql =
        std::string("INSERT INTO events (message_id, link_id, kind, at, recipient, detail)"
                    " SELECT t.message_id, t.link_id, ?2, ?3, ?4, ?5 FROM (") +
        source +
        ") t WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.message_id = t.message_id"
        "   AND e.kind = ?2 AND e.at = ?3 AND e.recipient = ?4 AND e.detail = ?5)";
    Stmt st(db, sql.c_str());
    st.bind(1, r.queue_id).bind(2, to_string(r.kind)).bind(3, r.at)
        .bind(4, clean_display_text(r.recipient, 320)).bind(5, delivery_detail(r))
        .bind(6, kQueueLifetime).bind(7, kClockSlack);
    if (auto s = st.run(); !s) return s.error();
    recorded += db.changes();
  }
  return recorded;
}

Status upsert_position(Db& db, const WatchPosition& p, std::int64_t now) {
  Stmt st(db,
          "INSERT INTO watch_position (log_path, device, inode, \"offset\", updated_at)"
          " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (log_path) DO UPDATE SET"
          " device = excluded.device, inode = excluded.inode, \"offset\" = excluded.\"offset\","
          " updated_at = excluded.updated_at");
  // Device and inode numbers are unsigned 64-bit; SQLite keeps their bits
  // in a signed INTEGER and load_watch_position casts them back.
  st.bind(1, p.log_path).bind(2, static_cast<std::int64_t>(p.device))
      .bind(3, static_cast<std::int64_t>(p.inode)).bind(4, p.offset).bind(5, now);
  return st.run();
}

}  // namespace

Result<std::optional<WatchPosition>> Catalog::load_watch_position(const std::string& log_path) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT device, inode, \"offset\" FROM watch_position WHERE log_path = ?1");
  auto row = st.bind(1, log_path).step();
  if (!row) return row.error();
  if (!*row) return std::optional<WatchPosition>();
  return std::optional<WatchPosition>(WatchPosition{
      log_path, static_cast<std::uint64_t>(st.int64(0)), static_cast<std::uint64_t>(st.int64(1)),
      st.int64(2)});
}

Status Catalog::save_watch_position(const WatchPosition& position, std::int64_t now) {
  std::lock_guard lock(mu_);
  return upsert_position(db_, position, now);
}

Result<int> Catalog::record_delivery(const DeliveryReport& report) {
  std::lock_guard lock(mu_);
  // A transaction: the "not recorded yet" check and the insert decide
  // together, whichever watcher (node) races this one.
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  auto recorded = insert_delivery(db_, report);
  if (!recorded) return recorded.error();
  if (auto s = tx.commit(); !s) return s.error();
  return recorded;
}

Result<int> Catalog::record_deliveries(const std::vector<DeliveryReport>& reports,
                                       const WatchPosition& position, std::int64_t now) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  int recorded = 0;
  for (const auto& r : reports) {
    auto n = insert_delivery(db_, r);
    if (!n) return n.error();
    recorded += *n;
  }
  if (auto s = upsert_position(db_, position, now); !s) return s.error();
  if (auto s = tx.commit(); !s) return s.error();
  return recorded;
}

}  // namespace attachgate::store
