// store/catalog_gates.cc - the catalog's gates: a ticket's one transfer at
// a time, and access-code attempts counted before they are checked.
//
// Each decision is one guarded UPDATE. SQLite runs it under the database
// write lock, so its row count (or RETURNING row) says who got through,
// whatever number of threads and processes race; reads after it only say
// why someone did not.
#include "store/catalog.h"

namespace attachgate::store {

Result<TransferStart> Catalog::begin_transfer(std::int64_t download_id, const std::string& owner,
                                              std::int64_t now, std::int64_t lease_seconds) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "UPDATE downloads SET lease_owner = ?2, lease_until = ?3 + ?4"
          " WHERE id = ?1 AND completed_at IS NULL AND resume_until > ?3 AND lease_until <= ?3");
  if (auto s = st.bind(1, download_id).bind(2, owner).bind(3, now).bind(4, lease_seconds).run(); !s)
    return s.error();
  if (db_.changes() == 1) return TransferStart::started;
  Stmt why(db_, "SELECT completed_at IS NOT NULL, resume_until <= ?2 FROM downloads WHERE id = ?1");
  auto row = why.bind(1, download_id).bind(2, now).step();
  if (!row) return row.error();
  if (!*row) return TransferStart::unknown;
  if (why.int64(0)) return TransferStart::finished;
  if (why.int64(1)) return TransferStart::over;
  return TransferStart::busy;
}

Result<bool> Catalog::renew_transfer(std::int64_t download_id, const std::string& owner,
                                     std::int64_t lease_until) {
  std::lock_guard lock(mu_);
  // Not checked against the clock: a holder whose lease ran out keeps the
  // ticket for as long as nobody else has taken it.
  Stmt st(db_,
          "UPDATE downloads SET lease_until = ?3"
          " WHERE id = ?1 AND lease_owner = ?2 AND completed_at IS NULL");
  if (auto s = st.bind(1, download_id).bind(2, owner).bind(3, lease_until).run(); !s)
    return s.error();
  return db_.changes() == 1;
}

Result<bool> Catalog::end_transfer(std::int64_t download_id, const std::string& owner,
                                   std::optional<std::int64_t> complete_at) {
  std::lock_guard lock(mu_);
  Stmt st(db_,
          "UPDATE downloads SET lease_owner = NULL, lease_until = 0,"
          " completed_at = coalesce(?3, completed_at)"
          " WHERE id = ?1 AND lease_owner = ?2 AND completed_at IS NULL");
  if (auto s = st.bind(1, download_id).bind(2, owner).bind(3, complete_at).run(); !s)
    return s.error();
  return db_.changes() == 1;
}

Result<CodeAttempt> Catalog::begin_code_attempt(std::int64_t link_id, std::int64_t now,
                                                const CodeLimits& limits) {
  std::lock_guard lock(mu_);
  CodeAttempt a;
  {
    Stmt st(db_,
            "UPDATE links SET failed_codes = failed_codes + 1,"
            " locked_until = CASE"
            "   WHEN failed_codes + 1 >= ?3 THEN ?5"
            "   WHEN (failed_codes + 1) % ?2 = 0 THEN ?4"
            "   ELSE locked_until END"
            " WHERE id = ?1 AND locked_until <= ?6 RETURNING failed_codes, locked_until");
    st.bind(1, link_id).bind(2, limits.per_pause).bind(3, limits.lock_after)
        .bind(4, now + limits.pause_seconds).bind(5, kLockedForGood).bind(6, now);
    auto row = st.step();
    if (!row) return row.error();
    if (*row) {
      a.admitted = true;
      a.failed = static_cast<int>(st.int64(0));
      a.locked_until = st.int64(1);
      // Admitted only while locked_until <= now: a later one is this attempt's.
      a.tripped = a.locked_until > now;
      if (auto done = st.step(); !done) return done.error();
      return a;
    }
  }
  Stmt why(db_, "SELECT failed_codes, locked_until FROM links WHERE id = ?1");
  auto row = why.bind(1, link_id).step();
  if (!row) return row.error();
  if (!*row) return make_error("no link " + std::to_string(link_id));
  a.failed = static_cast<int>(why.int64(0));
  a.locked_until = why.int64(1);
  return a;
}

Status Catalog::refund_code_attempt(std::int64_t link_id, const CodeAttempt& attempt) {
  if (!attempt.admitted) return {};
  std::lock_guard lock(mu_);
  // Nothing else can have paused or locked the link since this attempt did:
  // no attempt is admitted while it is paused, so lifting it is safe.
  Stmt st(db_,
          "UPDATE links SET failed_codes = failed_codes - 1,"
          " locked_until = CASE WHEN ?2 <> 0 THEN 0 ELSE locked_until END"
          " WHERE id = ?1 AND failed_codes > 0");
  return st.bind(1, link_id).bind(2, attempt.tripped ? 1 : 0).run();
}

}  // namespace attachgate::store
