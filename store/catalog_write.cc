// store/catalog_write.cc - the catalog's writes: offloads, events, claims.
#include <string>

#include "store/catalog.h"
#include "store/catalog_internal.h"
#include "store/secrets.h"
#include "util/units.h"

namespace attachgate::store {

Status insert_event(Db& db, const EventRecord& e) {
  Stmt st(db,
          "INSERT INTO events (message_id, file_id, link_id, kind, at, recipient, remote_addr,"
          " user_agent, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  st.bind(1, e.message_id).bind(2, e.file_id).bind(3, e.link_id)
      .bind(4, to_string(e.kind)).bind(5, e.at).bind(6, e.recipient).bind(7, e.remote_addr)
      .bind(8, e.user_agent).bind(9, e.detail);
  return st.run();
}

Result<std::int64_t> insert_link(Db& db, std::int64_t message_id, const NewLink& l,
                                 const std::vector<std::int64_t>& file_ids, std::int64_t now) {
  Stmt st(db,
          "INSERT INTO links (message_id, token_hash, pixel_id, recipient, expires_at,"
          " max_downloads, code_hash, track_opens, created_at)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  st.bind(1, message_id).bind_blob(2, l.token_hash).bind(3, l.pixel_id).bind(4, l.recipient)
      .bind(5, l.expires_at).bind(6, l.max_downloads).bind(7, l.code_hash)
      .bind(8, l.track_opens ? 1 : 0).bind(9, now);
  if (auto s = st.run(); !s) return s.error();
  const std::int64_t link_id = db.last_insert_id();
  for (auto file_id : file_ids) {
    Stmt lf(db, "INSERT INTO link_files (link_id, file_id) VALUES (?1, ?2)");
    if (auto s = lf.bind(1, link_id).bind(2, file_id).run(); !s) return s.error();
  }
  return link_id;
}

Result<OffloadIds> Catalog::record_offload(const Offload& o) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  OffloadIds ids;
  ids.message_public_id = o.public_id.empty() ? new_public_id() : o.public_id;
  {
    Stmt st(db_,
            "INSERT INTO messages (public_id, queue_id, sender, subject, auth_user, client_addr,"
            " outcome, created_at, status_token_hash, download_notice, header_message_id)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    st.bind(1, ids.message_public_id).bind(2, o.message.queue_id).bind(3, o.message.sender)
        .bind(4, o.message.subject).bind(5, o.message.auth_user).bind(6, o.message.client_addr)
        .bind(7, to_string(o.message.outcome)).bind(8, o.now)
        .bind(10, to_string(o.download_notice)).bind(11, o.message.header_message_id);
    if (!o.status_token_hash.empty()) st.bind_blob(9, o.status_token_hash);
    if (auto s = st.run(); !s) return s.error();
    ids.message_id = db_.last_insert_id();
  }
  for (const auto& rcpt : o.message.recipients) {
    Stmt st(db_, "INSERT INTO recipients (message_id, address) VALUES (?1, ?2)");
    if (auto s = st.bind(1, ids.message_id).bind(2, rcpt).run(); !s) return s.error();
  }
  std::vector<std::int64_t> file_ids;
  std::uint64_t bytes = 0;
  for (const auto& f : o.files) {
    Stmt st(db_,
            "INSERT INTO files (public_id, message_id, filename, content_type, size, sha256,"
            " blob_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    std::string public_id = new_public_id();
    st.bind(1, public_id).bind(2, ids.message_id).bind(3, f.filename).bind(4, f.content_type)
        .bind(5, static_cast<std::int64_t>(f.blob.size)).bind(6, f.blob.sha256)
        .bind(7, f.blob.id).bind(8, o.now);
    if (auto s = st.run(); !s) return s.error();
    file_ids.push_back(db_.last_insert_id());
    ids.file_public_ids.push_back(std::move(public_id));
    bytes += f.blob.size;
  }
  for (const auto& l : o.links) {
    auto link_id = insert_link(db_, ids.message_id, l, file_ids, o.now);
    if (!link_id) return link_id.error();
    ids.link_ids.push_back(*link_id);
  }
  EventRecord event;
  event.message_id = ids.message_id;
  event.kind = EventKind::offloaded;
  event.at = o.now;
  event.detail = std::to_string(o.files.size()) + (o.files.size() == 1 ? " file, " : " files, ") +
                 format_size(bytes);
  if (auto s = insert_event(db_, event); !s) return s.error();
  for (NewOutboxItem item : o.outbox) {
    item.message_id = ids.message_id;
    std::optional<std::int64_t> link_id;
    if (item.link_index) {
      if (*item.link_index >= ids.link_ids.size()) return make_error("catalog: outbox row names no link");
      link_id = ids.link_ids[*item.link_index];
    }
    if (auto s = insert_outbox(db_, outbox_sealer_ ? &*outbox_sealer_ : nullptr, item, link_id); !s)
      return s.error();
  }
  if (auto s = tx.commit(); !s) return s.error();
  return ids;
}

Result<std::int64_t> Catalog::add_event(const EventRecord& event) {
  std::lock_guard lock(mu_);
  const bool interest = event.kind == EventKind::viewed || event.kind == EventKind::opened;
  if (engine() == Engine::postgres) return add_event_postgres(event, interest);
  if (!interest) {
    if (auto s = insert_event(db_, event); !s) return s.error();
    return db_.last_insert_id();
  }
  if (auto s = db_.exec("PRAGMA synchronous = NORMAL"); !s) return s.error();
  // Every later write relies on FULL again, however this insert ends (an
  // exception included); a connection that cannot go back must not write.
  struct RestoreFull {
    Db& db;
    ~RestoreFull() {
      if (auto s = db.exec("PRAGMA synchronous = FULL"); !s)
        panic(("cannot restore PRAGMA synchronous = FULL: " + s.error().message).c_str());
    }
  } restore{db_};
  if (auto s = insert_event(db_, event); !s) return s.error();
  return db_.last_insert_id();
}

// On PostgreSQL an event id is taken when the row is inserted, not when it
// commits, so two racing inserts could commit out of id order and the
// webhook cursor ("id > last") would step over the later-committed one.
// Every event insert therefore runs under the write lock (sql.h), as all
// others already do inside their transactions: ids then commit in order.
// An interest event's commit does not wait for its WAL to reach the disk
// (synchronous_commit = off, this transaction only: PostgreSQL's equal of
// SQLite's synchronous = NORMAL; a crash may lose it, never corrupts).
Result<std::int64_t> Catalog::add_event_postgres(const EventRecord& event, bool interest) {
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  if (interest)
    if (auto s = db_.exec("SET LOCAL synchronous_commit = off"); !s) return s.error();
  if (auto s = insert_event(db_, event); !s) return s.error();
  const std::int64_t id = db_.last_insert_id();
  if (auto s = tx.commit(); !s) return s.error();
  return id;
}

int Catalog::synchronous_level() {
  std::lock_guard lock(mu_);
  if (engine() == Engine::postgres) {
    Stmt st(db_, "SELECT CASE WHEN current_setting('synchronous_commit') = 'off' THEN 1 ELSE 2 END");
    auto row = st.step();
    return row && *row ? static_cast<int>(st.int64(0)) : -1;
  }
  Stmt st(db_, "PRAGMA synchronous");
  auto row = st.step();
  return row && *row ? static_cast<int>(st.int64(0)) : -1;
}

Result<Claim> Catalog::claim_one(std::int64_t link_id, std::int64_t file_id, std::int64_t now) {
  // The whole decision is this one statement: SQLite runs it under the
  // database write lock, so the row count says who won.
  Stmt st(db_,
          "UPDATE link_files SET downloads = downloads + 1"
          " WHERE link_id = ?1 AND file_id = ?2"
          "   AND downloads < (SELECT max_downloads FROM links"
          "                    WHERE id = ?1 AND revoked_at IS NULL AND expires_at > ?3)"
          "   AND EXISTS (SELECT 1 FROM files WHERE id = ?2 AND state = 'stored')");
  if (auto s = st.bind(1, link_id).bind(2, file_id).bind(3, now).run(); !s) return s.error();
  if (db_.changes() == 1) return Claim::won;
  // Lost: say why, for the 410 page. Reading after the fact is fine here;
  // only the UPDATE above decides.
  Stmt why(db_,
           "SELECT lf.downloads >= l.max_downloads FROM link_files lf JOIN links l"
           " ON l.id = lf.link_id WHERE lf.link_id = ?1 AND lf.file_id = ?2");
  auto row = why.bind(1, link_id).bind(2, file_id).step();
  if (!row) return row.error();
  return *row && why.int64(0) ? Claim::used_up : Claim::unavailable;
}

Result<ClaimResult> Catalog::claim_download(const NewDownload& c) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  ClaimResult result;
  Claim lost = Claim::unavailable;
  for (auto file_id : c.file_ids) {
    auto claim = claim_one(c.link_id, file_id, c.now);
    if (!claim) return claim.error();
    if (*claim == Claim::won) {
      result.file_ids.push_back(file_id);
    } else {
      if (*claim == Claim::used_up) lost = Claim::used_up;
      if (!c.all) return ClaimResult{lost, 0, {}};  // the transaction rolls back
    }
  }
  if (result.file_ids.empty()) return ClaimResult{lost, 0, {}};
  Stmt st(db_,
          "INSERT INTO downloads (ticket_hash, link_id, is_zip, claimed_at, resume_until,"
          " remote_addr, user_agent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  st.bind_blob(1, c.ticket_hash).bind(2, c.link_id).bind(3, c.all ? 1 : 0).bind(4, c.now)
      .bind(5, c.resume_until).bind(6, c.remote_addr).bind(7, c.user_agent);
  if (auto s = st.run(); !s) return s.error();
  result.download_id = db_.last_insert_id();
  for (auto file_id : result.file_ids) {
    Stmt df(db_, "INSERT INTO download_files (download_id, file_id) VALUES (?1, ?2)");
    if (auto s = df.bind(1, result.download_id).bind(2, file_id).run(); !s) return s.error();
  }
  if (auto s = tx.commit(); !s) return s.error();
  result.outcome = Claim::won;
  return result;
}

Result<bool> Catalog::complete_download(std::int64_t download_id, std::int64_t now) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "UPDATE downloads SET completed_at = ?2 WHERE id = ?1 AND completed_at IS NULL");
  if (auto s = st.bind(1, download_id).bind(2, now).run(); !s) return s.error();
  return db_.changes() == 1;
}

Result<std::vector<std::string>> Catalog::remove_message(std::int64_t message_id) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  std::vector<std::string> blobs;
  {
    Stmt st(db_,
            "SELECT blob_id FROM files WHERE message_id = ?1"
            " UNION ALL SELECT blob_id FROM outbox WHERE message_id = ?1 AND blob_id IS NOT NULL");
    st.bind(1, message_id);
    for (;;) {
      auto row = st.step();
      if (!row) return row.error();
      if (!*row) break;
      blobs.push_back(st.text(0));
    }
  }
  for (const char* sql : {"DELETE FROM events WHERE message_id = ?1",
                          "DELETE FROM messages WHERE id = ?1"}) {
    Stmt st(db_, sql);
    if (auto s = st.bind(1, message_id).run(); !s) return s.error();
  }
  if (auto s = tx.commit(); !s) return s.error();
  return blobs;
}

Result<bool> Catalog::mark_blob_missing(const std::string& blob_id) {
  std::lock_guard lock(mu_);
  Stmt st(db_, "UPDATE files SET state = 'missing' WHERE blob_id = ?1 AND state = 'stored'");
  if (auto s = st.bind(1, blob_id).run(); !s) return s.error();
  return db_.changes() == 1;
}

}  // namespace attachgate::store
