// store/catalog_purge.cc - the catalog's side of purging: which files no
// link can still download, marking them purged, forgetting old messages.
//
// A file is purgeable when every link to it is revoked, expired or used up
// for it, and no claimed download of it may still be resumed. The same
// condition guards the UPDATE that marks it, so a claim or an `extend`
// landing between the listing and the marking keeps the file.
#include <string>

#include "store/catalog.h"
#include "store/catalog_internal.h"

namespace attachgate::store {
namespace {

// ?1 is now; `f` is the file.
constexpr const char* kPurgeable =
    " f.state = 'stored'"
    " AND NOT EXISTS (SELECT 1 FROM link_files lf JOIN links l ON l.id = lf.link_id"
    "   WHERE lf.file_id = f.id AND l.revoked_at IS NULL AND l.expires_at > ?1"
    "   AND lf.downloads < l.max_downloads)"
    " AND NOT EXISTS (SELECT 1 FROM download_files df JOIN downloads d ON d.id = df.download_id"
    "   WHERE df.file_id = f.id AND d.completed_at IS NULL AND d.resume_until > ?1)";

// Why a purgeable file is gone, in the 410 page's words: the names of
// PurgeReason (records.h).
constexpr const char* kReason =
    "CASE WHEN NOT EXISTS (SELECT 1 FROM link_files lf WHERE lf.file_id = f.id) THEN 'no link'"
    " WHEN NOT EXISTS (SELECT 1 FROM link_files lf JOIN links l ON l.id = lf.link_id"
    "   WHERE lf.file_id = f.id AND l.revoked_at IS NULL) THEN 'revoked'"
    " WHEN NOT EXISTS (SELECT 1 FROM link_files lf JOIN links l ON l.id = lf.link_id"
    "   WHERE lf.file_id = f.id AND l.revoked_at IS NULL AND l.expires_at > ?1) THEN 'expired'"
    " ELSE 'used up' END";

}  // namespace

// The listing reads every stored file, which takes seconds at 10^6 of them;
// claims in this process wait for the writer meanwhile. So it goes in spans
// of ids, the writer free between them: a claim waits for one span at most.
constexpr std::int64_t kPurgeSpan = 5000;

Result<std::vector<PurgeCandidate>> Catalog::purgeable_files(std::int64_t now) {
  std::int64_t last = 0;
  {
    std::lock_guard lock(mu_);
    Stmt max(db_, "SELECT coalesce(max(id), 0) FROM files");
    auto row = max.step();
    if (!row) return row.error();
    last = max.int64(0);
  }
  std::string sql = std::string("SELECT f.id, f.blob_id, f.message_id, f.size, ") + kReason +
                    " FROM files f WHERE f.id > ?2 AND f.id <= ?3 AND" + kPurgeable +
                    " ORDER BY f.id";
  std::vector<PurgeCandidate> out;
  for (std::int64_t after = 0; after < last; after += kPurgeSpan) {
    std::lock_guard lock(mu_);
    Stmt st(db_, sql.c_str());
    st.bind(1, now).bind(2, after).bind(3, after + kPurgeSpan);
    for (;;) {
      auto row = st.step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(PurgeCandidate{st.int64(0), st.text(1), st.int64(2),
                                   static_cast<std::uint64_t>(st.int64(3)),
                                   enum_column(st, 4, purge_reason_from, "purge reason")});
    }
  }
  return out;
}

Result<bool> Catalog::mark_purged(const PurgeCandidate& file, std::int64_t now) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  std::string sql = std::string("UPDATE files AS f SET state = 'purged' WHERE f.id = ?2 AND") +
                    kPurgeable;
  Stmt st(db_, sql.c_str());
  if (auto s = st.bind(1, now).bind(2, file.file_id).run(); !s) return s.error();
  if (db_.changes() != 1) return false;
  Stmt ev(db_,
          "INSERT INTO events (message_id, file_id, kind, at, detail)"
          " VALUES (?1, ?2, 'purged', ?3, ?4)");
  ev.bind(1, file.message_id).bind(2, file.file_id).bind(3, now).bind(4, to_string(file.reason));
  if (auto s = ev.run(); !s) return s.error();
  if (auto s = tx.commit(); !s) return s.error();
  return true;
}

Result<ForgetReport> Catalog::forget_before(std::int64_t cutoff) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  ForgetReport report;
  // A message goes once none of its files is stored and every link ended
  // (expired or revoked) before the cutoff; its rows go with it.
  Stmt messages(db_,
                "DELETE FROM messages AS m WHERE created_at < ?1"
                " AND NOT EXISTS (SELECT 1 FROM files f WHERE f.message_id = m.id"
                "   AND f.state = 'stored')"
                " AND NOT EXISTS (SELECT 1 FROM links l WHERE l.message_id = m.id"
                "   AND l.expires_at >= ?1 AND coalesce(l.revoked_at, l.expires_at) >= ?1)");
  if (auto s = messages.bind(1, cutoff).run(); !s) return s.error();
  report.messages = db_.changes();
  Stmt events(db_,
              "DELETE FROM events WHERE at < ?1 AND (message_id IS NULL"
              " OR NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = events.message_id))");
  if (auto s = events.bind(1, cutoff).run(); !s) return s.error();
  report.events = db_.changes();
  if (auto s = tx.commit(); !s) return s.error();
  return report;
}

Result<bool> Catalog::try_lock_purge() {
  if (engine() != Engine::postgres) return true;
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT pg_try_advisory_lock(?1)");
  auto row = st.bind(1, kPurgeLock).step();
  if (!row) return row.error();
  return *row && st.int64(0) != 0;
}

Status Catalog::unlock_purge() {
  if (engine() != Engine::postgres) return {};
  std::lock_guard lock(mu_);
  Stmt st(db_, "SELECT pg_advisory_unlock(?1)");
  auto row = st.bind(1, kPurgeLock).step();
  if (!row) return row.error();
  return {};
}

}  // namespace attachgate::store
