// store/catalog_recipients.cc - a message's links per recipient, as the
// sender's status page and the admin's CLI see and change them: find one
// recipient's link, revoke only that one, and list when each file was
// downloaded through which link.
//
// Addresses are matched without regard to case (ASCII, as SQLite's NOCASE):
// the envelope's spelling and the one a sender or admin types may differ.
// A revoke changes the link and records its event in one transaction.
#include "store/catalog.h"
#include "store/catalog_internal.h"

namespace attachgate::store {
namespace {

Result<std::optional<LinkRecord>> link_for(Db& db, std::int64_t message_id,
                                           const std::string& recipient) {
  std::string sql = std::string("SELECT ") + kLinkCols +
                    " FROM links WHERE message_id = ?1 AND recipient = ?2 COLLATE NOCASE"
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
