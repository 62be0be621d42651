// store/catalog_admin.cc - what the admin (and a sender, from the status
// page) may do to a message after it left: revoke or extend its links, and
// the day-by-day numbers of `attachgate stats`.
//
// Revoke and extend each run in one transaction: the links change and their
// events are recorded together or not at all. A revoked link is final:
// extend leaves it alone, so no one can bring back a link an admin or the
// sender cut off. Purge already treats revoked links as ended, so a revoked
// message's blobs go at the next purge.
#include <algorithm>
#include <string>

#include "store/catalog.h"
#include "util/units.h"

namespace attachgate::store {
namespace {

constexpr std::int64_t kDay = 86400;

// Days are UTC and start at 00:00; catalog times are never before 1970.
std::int64_t day_start(std::int64_t t) { return t - t % kDay; }

std::string iso_utc(std::int64_t t) {
  std::string s = format_time(t);
  s[10] = 'T';
  return s + "Z";
}

std::string with_by(std::string detail, const std::string& by) {
  if (by.empty()) return detail;
  return detail.empty() ? "by " + by : detail + " by " + by;
}

// A link an UPDATE changed: its id, new expiry and recipient ("" for a
// link shared by all recipients).
struct ChangedLink {
  std::int64_t id = 0, expires_at = 0;
  std::string recipient;
};

// Each link's event names its recipient, so a per-recipient trail stays
// whole when the admin acts on the whole message.
Status insert_link_event(Db& db, std::int64_t message_id, const ChangedLink& link,
                         EventKind kind, std::int64_t at, const std::string& detail) {
  Stmt st(db,
          "INSERT INTO events (message_id, link_id, kind, at, recipient, detail)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  return st.bind(1, message_id).bind(2, link.id).bind(3, to_string(kind)).bind(4, at)
      .bind(5, link.recipient).bind(6, detail).run();
}

// Steps an UPDATE ... RETURNING id, expires_at, recipient to its end. The
// events are inserted afterwards, once the UPDATE statement is done.
Result<std::vector<ChangedLink>> changed_links(Stmt& st) {
  std::vector<ChangedLink> out;
  for (;;) {
    auto row = st.step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back({st.int64(0), st.int64(1), st.opt_text(2).value_or("")});
  }
}

}  // namespace

Result<std::optional<std::int64_t>> Catalog::message_row_id(const std::string& id) {
  std::lock_guard lock(mu_);
  if (id.empty()) return std::optional<std::int64_t>{};
  auto message = message_by(db_, id);
  if (!message) return message.error();
  if (!*message) return std::optional<std::int64_t>{};
  return std::optional<std::int64_t>{(*message)->id};
}

Result<LinkChange> Catalog::revoke_message_links(std::int64_t message_id, std::int64_t now,
                                                 const std::string& by) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  Stmt st(db_,
          "UPDATE links SET revoked_at = ?2 WHERE message_id = ?1 AND revoked_at IS NULL"
          " RETURNING id, expires_at, recipient");
  st.bind(1, message_id).bind(2, now);
  auto links = changed_links(st);
  if (!links) return links.error();
  for (const auto& link : *links)
    if (auto s = insert_link_event(db_, message_id, link, EventKind::revoked, now,
                                   with_by("", by));
        !s)
      return s.error();
  if (auto s = tx.commit(); !s) return s.error();
  return LinkChange{static_cast<int>(links->size()), 0};
}

Result<LinkChange> Catalog::extend_message_links(std::int64_t message_id, std::int64_t seconds,
                                                 std::int64_t now, const std::string& by) {
  // Bounded so that the sum stays an integer in SQLite (an overflow there
  // turns into a floating-point expiry).
  constexpr std::int64_t kMaxSeconds = 100LL * 366 * kDay;
  if (seconds <= 0 || seconds > kMaxSeconds)
    return make_error("extend by " + std::to_string(seconds) +
                      " seconds: give a duration from 1s to 100 years");
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  Stmt st(db_,
          "UPDATE links SET expires_at = CASE WHEN expires_at > ?2 THEN expires_at ELSE ?2 END + ?3"
          " WHERE message_id = ?1 AND revoked_at IS NULL RETURNING id, expires_at, recipient");
  st.bind(1, message_id).bind(2, now).bind(3, seconds);
  auto links = changed_links(st);
  if (!links) return links.error();
  LinkChange change;
  for (const auto& link : *links) {
    const std::string detail = with_by("until " + iso_utc(link.expires_at), by);
    if (auto s = insert_link_event(db_, message_id, link, EventKind::extended, now, detail); !s)
      return s.error();
    change.expires_at = std::max(change.expires_at, link.expires_at);
  }
  if (auto s = tx.commit(); !s) return s.error();
  change.links = static_cast<int>(links->size());
  return change;
}

Result<std::vector<DayStats>> Catalog::stats_by_day(int days, std::int64_t now) {
  std::vector<DayStats> out;
  if (days < 1) return out;
  const std::int64_t last = day_start(now);
  const std::int64_t first = last - static_cast<std::int64_t>(days - 1) * kDay;
  for (std::int64_t d = first; d <= last; d += kDay) out.push_back(DayStats{d});
  auto at = [&](std::int64_t day) -> DayStats& {
    return out[static_cast<std::size_t>((day - first) / kDay)];
  };

  std::lock_guard lock(mu_);
  // ?1 and ?2 bound the window; each row is (day, count[, bytes]).
  const char* const queries[] = {
      "SELECT created_at - created_at % 86400, count(*), 0 FROM messages"
      " WHERE created_at >= ?1 AND created_at < ?2 GROUP BY 1",
      "SELECT created_at - created_at % 86400, count(*), coalesce(sum(size), 0) FROM files"
      " WHERE created_at >= ?1 AND created_at < ?2 GROUP BY 1",
      "SELECT completed_at - completed_at % 86400, count(*), 0 FROM downloads"
      " WHERE completed_at >= ?1 AND completed_at < ?2 GROUP BY 1",
  };
  for (int q = 0; q < 3; ++q) {
    Stmt st(db_, queries[q]);
    st.bind(1, first).bind(2, last + kDay);
    for (;;) {
      auto row = st.step();
      if (!row) return row.error();
      if (!*row) break;
      DayStats& day = at(st.int64(0));
      const int n = static_cast<int>(st.int64(1));
      if (q == 0) day.messages = n;
      if (q == 1) {
        day.files = n;
        day.bytes = static_cast<std::uint64_t>(st.int64(2));
      }
      if (q == 2) day.downloads = n;
    }
  }
  return out;
}

Result<StoredTotals> Catalog::stored_totals() {
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT count(*), coalesce(sum(size), 0) FROM files WHERE state = 'stored'");
  auto row = st.step();
  if (!row) return row.error();
  return StoredTotals{st.int64(0), static_cast<std::uint64_t>(st.int64(1))};
}

}  // namespace attachgate::store
