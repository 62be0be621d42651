// store/catalog_recipients.cc - a message's links per recipient, as the
// sender's status page and the admin's CLI see and change them: find one
// recipient's link, revoke only that one, and list when each file was
// downloaded through which link; and "send again", a recipient's link
// re-issued.
//
// Addresses are matched without regard to case (lower() on both sides):
// the envelope's spelling and the one a sender or admin types may differ.
// A revoke changes the link and records its event in one transaction.
#include <algorithm>

#include "store/catalog.h"
#include "store/catalog_internal.h"

namespace attachgate::store {
namespace {

Result<std::optional<LinkRecord>> link_for(Db& db, std::int64_t message_id,
                                           const std::string& recipient) {
  std::string sql = std::string("SELECT ") + kLinkCols +
                    " FROM links WHERE message_id = ?1 AND lower(recipient) = lower(?2)"
                    " ORDER BY id DESC LIMIT 1";
  Stmt st(db, sql.c_str());
  auto row = st.bind(1, message_id).bind(2, recipient).step();
  if (!row) return row.error();
  if (!*row) return std::optional<LinkRecord>{};
  return std::optional<LinkRecord>{read_link(st)};
}

}  // namespace

Result<std::optional<LinkRecord>> Catalog::recipient_link(std::int64_t message_id,
                                                          const std::string& recipient) {
  std::lock_guard lock(read_mu_);
  return link_for(reader_, message_id, recipient);
}

Result<std::optional<LinkChange>> Catalog::revoke_recipient_link(std::int64_t message_id,
                                                                 const std::string& recipient,
                                                                 std::int64_t now,
                                                                 const std::string& by) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  // Looked up under the write lock, so a racing revoke sees this one's result.
  auto link = link_for(db_, message_id, recipient);
  if (!link) return link.error();
  if (!*link) return std::optional<LinkChange>{};
  if ((*link)->revoked_at) return std::optional<LinkChange>{LinkChange{0, 0}};
  Stmt st(db_, "UPDATE links SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL");
  if (auto s = st.bind(1, (*link)->id).bind(2, now).run(); !s) return s.error();
  EventRecord e;
  e.message_id = message_id;
  e.link_id = (*link)->id;
  e.kind = EventKind::revoked;
  e.at = now;
  e.recipient = *(*link)->recipient;  // as the link has it, not as it was typed
  e.detail = by.empty() ? "" : "by " + by;
  if (auto s = insert_event(db_, e); !s) return s.error();
  if (auto s = tx.commit(); !s) return s.error();
  return std::optional<LinkChange>{LinkChange{1, 0}};
}

Result<ResendResult> Catalog::resend_recipient_link(std::int64_t message_id,
                                                   const std::string& recipient,
                                                   const ResendRequest& r) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return s.error();
  // Everything is read under the write lock: racing resends for the same
  // recipient count each other's links.
  auto old = link_for(db_, message_id, recipient);
  if (!old) return old.error();
  ResendResult out;
  if (!*old) return out;
  const LinkRecord& was = **old;
  Stmt count(db_, "SELECT count(*) FROM links WHERE message_id = ?1 AND recipient = ?2");
  auto counted = count.bind(1, message_id).bind(2, *was.recipient).step();
  if (!counted) return counted.error();
  out.links = static_cast<int>(count.int64(0));
  if (r.max_links > 0 && out.links >= r.max_links) return out.outcome = ResendOutcome::too_many, out;
  if (r.latest_expiry > 0 && r.now >= r.latest_expiry)
    return out.outcome = ResendOutcome::too_late, out;
  std::vector<std::int64_t> file_ids;
  {
    Stmt files(db_,
               "SELECT lf.file_id FROM link_files lf JOIN files f ON f.id = lf.file_id"
               " WHERE lf.link_id = ?1 AND f.state = 'stored' ORDER BY lf.file_id");
    files.bind(1, was.id);
    for (;;) {
      auto row = files.step();
      if (!row) return row.error();
      if (!*row) break;
      file_ids.push_back(files.int64(0));
    }
  }
  if (file_ids.empty()) return out.outcome = ResendOutcome::no_files, out;

  EventRecord e;
  e.message_id = message_id;
  e.at = r.now;
  e.recipient = *was.recipient;
  const std::string by = r.by.empty() ? "" : "by " + r.by;
  if (!was.revoked_at) {
    Stmt revoke(db_, "UPDATE links SET revoked_at = ?2 WHERE id = ?1");
    if (auto s = revoke.bind(1, was.id).bind(2, r.now).run(); !s) return s.error();
    e.link_id = was.id;
    e.kind = EventKind::revoked;
    e.detail = (by.empty() ? "" : by + "; ") + "a new link was sent in its place";
    if (auto s = insert_event(db_, e); !s) return s.error();
  }
  NewLink fresh;
  fresh.token_hash = r.token_hash;
  fresh.pixel_id = r.pixel_id;
  fresh.recipient = was.recipient;
  // The lifetime the sender's policy gave the link, from now: a used-up or
  // expired link comes back for as long as it first had.
  const std::int64_t lifetime = std::max<std::int64_t>(was.expires_at - was.created_at, 3600);
  fresh.expires_at = r.now + lifetime;
  if (r.latest_expiry > 0) fresh.expires_at = std::min(fresh.expires_at, r.latest_expiry);
  fresh.max_downloads = was.max_downloads;
  fresh.code_hash = was.code_hash;
  fresh.track_opens = was.track_opens;
  auto link_id = insert_link(db_, message_id, fresh, file_ids, r.now);
  if (!link_id) return link_id.error();
  e.link_id = *link_id;
  e.kind = EventKind::resent;
  e.detail = (by.empty() ? "" : by + "; ") + std::to_string(file_ids.size()) +
             (file_ids.size() == 1 ? " file" : " files");
  if (auto s = insert_event(db_, e); !s) return s.error();
  NewOutboxItem item;
  item.kind = OutboxKind::fresh_link;
  item.message_id = message_id;
  item.target = *was.recipient;
  item.payload = r.token;
  item.now = r.now;
  if (auto s = insert_outbox(db_, outbox_sealer_ ? &*outbox_sealer_ : nullptr, item, *link_id); !s)
    return s.error();
  if (auto s = tx.commit(); !s) return s.error();
  out.outcome = ResendOutcome::sent;
  out.link_id = *link_id;
  out.expires_at = fresh.expires_at;
  out.links += 1;
  return out;
}

Result<std::vector<CompletedDownload>> Catalog::completed_downloads_by_file(
    std::int64_t message_id) {
  std::lock_guard lock(read_mu_);
  Stmt st(reader_,
          "SELECT d.link_id, df.file_id, d.completed_at FROM downloads d"
          " JOIN links l ON l.id = d.link_id"
          " JOIN download_files df ON df.download_id = d.id"
          " WHERE l.message_id = ?1 AND d.completed_at IS NOT NULL"
          " ORDER BY d.completed_at, d.id, df.file_id");
  st.bind(1, message_id);
  std::vector<CompletedDownload> out;
  for (;;) {
    auto row = st.step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back({st.int64(0), st.int64(1), st.int64(2)});
  }
}

}  // namespace attachgate::store
