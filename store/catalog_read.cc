// store/catalog_read.cc - the catalog's reads: lookups and reports.
#include "store/catalog.h"
#include "store/catalog_internal.h"

namespace attachgate::store {
namespace {

constexpr const char* kMessageCols =
    "id, public_id, queue_id, sender, subject, auth_user, client_addr, outcome, created_at,"
    " download_notice";
constexpr const char* kFileCols =
    "f.id, f.public_id, f.message_id, f.filename, f.content_type, f.size, f.sha256, f.blob_id,"
    " f.state, f.created_at";

// A message from a row of kMessageCols, in that order.
MessageRecord read_message(const Stmt& st) {
  return MessageRecord{st.int64(0), st.text(1), st.text(2), st.text(3),
                       st.text(4), st.text(5), st.text(6),
                       enum_column(st, 7, message_outcome_from, "messages.outcome"), st.int64(8),
                       enum_column(st, 9, download_notice_from, "messages.download_notice")};
}

FileRecord read_file(const Stmt& st) {
  return FileRecord{st.int64(0), st.text(1), st.int64(2), st.text(3), st.text(4),
                    static_cast<std::uint64_t>(st.int64(5)), st.text(6), st.text(7),
                    enum_column(st, 8, file_state_from, "files.state"), st.int64(9)};
}

}  // namespace

LinkRecord read_link(const Stmt& st) {
  LinkRecord l;
  l.id = st.int64(0);
  l.message_id = st.int64(1);
  l.recipient = st.opt_text(2);
  l.pixel_id = st.text(3);
  l.expires_at = st.int64(4);
  l.max_downloads = static_cast<int>(st.int64(5));
  l.code_hash = st.opt_text(6);
  l.track_opens = st.int64(7) != 0;
  l.failed_codes = static_cast<int>(st.int64(8));
  l.locked_until = st.int64(9);
  l.revoked_at = st.opt_int64(10);
  l.created_at = st.int64(11);
  l.queue_id = st.text(12);
  return l;
}

EventRecord read_event(const Stmt& st) {
  EventRecord e;
  e.id = st.int64(0);
  e.message_id = st.opt_int64(1);
  e.file_id = st.opt_int64(2);
  e.link_id = st.opt_int64(3);
  e.kind = event_kind_from(st.text(4)).value_or(EventKind::offloaded);  // CHECK keeps it valid
  e.at = st.int64(5);
  e.recipient = st.text(6);
  e.remote_addr = st.text(7);
  e.user_agent = st.text(8);
  e.detail = st.text(9);
  return e;
}

namespace {

// Runs a prepared statement and maps each row; stops at the first error.
template <class T, class F>
Result<std::vector<T>> collect(Stmt& st, F read) {
  std::vector<T> out;
  for (;;) {
    auto row = st.step();
    if (!row) return row.error();
    if (!*row) return out;
    out.push_back(read(st));
  }
}

}  // namespace

Result<std::optional<LinkRecord>> Catalog::find_link_by_token_hash(const std::string& token_hash) {
  std::lock_guard lock(read_mu_);
  std::string sql = std::string("SELECT ") + kLinkCols + " FROM links WHERE token_hash = ?1";
  Stmt st(reader_, sql.c_str());
  auto row = st.bind_blob(1, token_hash).step();
  if (!row) return row.error();
  if (!*row) return std::optional<LinkRecord>{};
  return std::optional<LinkRecord>{read_link(st)};
}

Result<std::optional<LinkRecord>> Catalog::find_link_by_pixel(const std::string& pixel_id) {
  std::lock_guard lock(read_mu_);
  std::string sql = std::string("SELECT ") + kLinkCols + " FROM links WHERE pixel_id = ?1";
  Stmt st(reader_, sql.c_str());
  auto row = st.bind(1, pixel_id).step();
  if (!row) return row.error();
  if (!*row) return std::optional<LinkRecord>{};
  return std::optional<LinkRecord>{read_link(st)};
}

Result<std::optional<MessageRecord>> Catalog::find_message(std::int64_t id) {
  std::lock_guard lock(read_mu_);
  std::string sql = std::string("SELECT ") + kMessageCols + " FROM messages WHERE id = ?1";
  Stmt st(reader_, sql.c_str());
  auto row = st.bind(1, id).step();
  if (!row) return row.error();
  if (!*row) return std::optional<MessageRecord>{};
  return std::optional<MessageRecord>{read_message(st)};
}

Result<std::optional<DownloadRecord>> Catalog::find_download(const std::string& ticket_hash) {
  std::lock_guard lock(read_mu_);
  Stmt st(reader_,
          "SELECT d.id, d.link_id, d.is_zip, d.claimed_at, d.resume_until, d.completed_at,"
          " l.recipient FROM downloads d JOIN links l ON l.id = d.link_id"
          " WHERE d.ticket_hash = ?1");
  auto row = st.bind_blob(1, ticket_hash).step();
  if (!row) return row.error();
  if (!*row) return std::optional<DownloadRecord>{};
  DownloadRecord d;
  d.id = st.int64(0);
  d.link_id = st.int64(1);
  d.is_zip = st.int64(2) != 0;
  d.claimed_at = st.int64(3);
  d.resume_until = st.int64(4);
  d.completed_at = st.opt_int64(5);
  d.recipient = st.opt_text(6);
  std::string sql = std::string("SELECT ") + kFileCols +
                    " FROM download_files df JOIN files f ON f.id = df.file_id"
                    " WHERE df.download_id = ?1 ORDER BY f.id";
  Stmt files(reader_, sql.c_str());
  files.bind(1, d.id);
  auto f = collect<FileRecord>(files, read_file);
  if (!f) return f.error();
  d.files = std::move(*f);
  return std::optional<DownloadRecord>{std::move(d)};
}

Result<std::vector<LinkFile>> Catalog::link_files(std::int64_t link_id) {
  std::lock_guard lock(read_mu_);
  std::string sql = std::string("SELECT ") + kFileCols +
                    ", lf.downloads FROM link_files lf JOIN files f ON f.id = lf.file_id"
                    " WHERE lf.link_id = ?1 ORDER BY f.id";
  Stmt st(reader_, sql.c_str());
  st.bind(1, link_id);
  return collect<LinkFile>(st, [](const Stmt& s) {
    return LinkFile{read_file(s), static_cast<int>(s.int64(10))};
  });
}

Result<std::optional<FileRecord>> Catalog::find_file(const std::string& public_id) {
  std::lock_guard lock(read_mu_);
  std::string sql = std::string("SELECT ") + kFileCols + " FROM files f WHERE f.public_id = ?1";
  Stmt st(reader_, sql.c_str());
  auto row = st.bind(1, public_id).step();
  if (!row) return row.error();
  if (!*row) return std::optional<FileRecord>{};
  return std::optional<FileRecord>{read_file(st)};
}

Result<std::vector<MessageSummary>> Catalog::list_messages(int limit) {
  std::lock_guard lock(read_mu_);
  Stmt st(reader_,
          "SELECT m.id, m.public_id, m.queue_id, m.sender, m.subject, m.auth_user, m.client_addr,"
          " m.outcome, m.created_at, m.download_notice,"
          " (SELECT count(*) FROM recipients r WHERE r.message_id = m.id),"
          " (SELECT count(*) FROM files f WHERE f.message_id = m.id),"
          " (SELECT coalesce(sum(size), 0) FROM files f WHERE f.message_id = m.id)"
          " FROM messages m ORDER BY m.created_at DESC, m.id DESC LIMIT ?1");
  st.bind(1, limit);
  return collect<MessageSummary>(st, [](const Stmt& s) {
    return MessageSummary{read_message(s), static_cast<int>(s.int64(10)),
                          static_cast<int>(s.int64(11)), static_cast<std::uint64_t>(s.int64(12))};
  });
}

Result<std::optional<MessageRecord>> Catalog::find_message_by_status_token(
    const std::string& token_hash) {
  std::lock_guard lock(read_mu_);
  std::string sql =
      std::string("SELECT ") + kMessageCols + " FROM messages WHERE status_token_hash = ?1";
  Stmt st(reader_, sql.c_str());
  st.bind_blob(1, token_hash);
  auto row = st.step();
  if (!row) return row.error();
  if (!*row) return std::optional<MessageRecord>{};
  return std::optional<MessageRecord>{read_message(st)};
}

Result<int> Catalog::completed_downloads(std::int64_t message_id,
                                         std::optional<std::int64_t> link_id) {
  std::lock_guard lock(read_mu_);
  Stmt st(reader_,
          "SELECT count(*) FROM downloads d JOIN links l ON l.id = d.link_id"
          " WHERE l.message_id = ?1 AND (?2 IS NULL OR l.id = ?2) AND d.completed_at IS NOT NULL");
  st.bind(1, message_id).bind(2, link_id);
  auto row = st.step();
  if (!row) return row.error();
  return static_cast<int>(st.int64(0));
}

Result<std::optional<MessageRecord>> Catalog::message_by(Db& db, const std::string& id) {
  std::string sql = std::string("SELECT ") + kMessageCols +
                    " FROM messages WHERE public_id = ?1 OR queue_id = ?1"
                    " ORDER BY public_id = ?1 DESC, id DESC LIMIT 1";
  Stmt st(db, sql.c_str());
  auto row = st.bind(1, id).step();
  if (!row) return row.error();
  if (!*row) return std::optional<MessageRecord>{};
  return std::optional<MessageRecord>{read_message(st)};
}

Result<std::optional<MessageDetail>> Catalog::show_message(const std::string& id) {
  std::lock_guard lock(read_mu_);
  if (id.empty()) return std::optional<MessageDetail>{};
  auto message = message_by(reader_, id);
  if (!message) return message.error();
  if (!*message) return std::optional<MessageDetail>{};
  MessageDetail d;
  d.message = **message;
  const std::int64_t mid = d.message.id;

  Stmt rcpt(reader_, "SELECT address FROM recipients WHERE message_id = ?1 ORDER BY id");
  rcpt.bind(1, mid);
  auto recipients = collect<std::string>(rcpt, [](const Stmt& s) { return s.text(0); });
  if (!recipients) return recipients.error();
  d.recipients = std::move(*recipients);

  std::string fsql = std::string("SELECT ") + kFileCols + " FROM files f WHERE f.message_id = ?1 ORDER BY f.id";
  Stmt files(reader_, fsql.c_str());
  files.bind(1, mid);
  auto f = collect<FileRecord>(files, read_file);
  if (!f) return f.error();
  d.files = std::move(*f);

  std::string lsql = std::string("SELECT ") + kLinkCols + " FROM links WHERE message_id = ?1 ORDER BY id";
  Stmt links(reader_, lsql.c_str());
  links.bind(1, mid);
  auto l = collect<LinkRecord>(links, read_link);
  if (!l) return l.error();
  d.links = std::move(*l);

  for (const auto& link : d.links) {
    std::vector<int> row;
    for (const auto& file : d.files) {
      Stmt dl(reader_, "SELECT downloads FROM link_files WHERE link_id = ?1 AND file_id = ?2");
      auto has = dl.bind(1, link.id).bind(2, file.id).step();
      if (!has) return has.error();
      row.push_back(*has ? static_cast<int>(dl.int64(0)) : 0);
    }
    d.downloads.push_back(std::move(row));
  }

  Stmt events(reader_,
              "SELECT id, message_id, file_id, link_id, kind, at, recipient, remote_addr,"
              " user_agent, detail FROM events WHERE message_id = ?1 ORDER BY at, id");
  events.bind(1, mid);
  auto e = collect<EventRecord>(events, read_event);
  if (!e) return e.error();
  d.events = std::move(*e);
  return std::optional<MessageDetail>{std::move(d)};
}

Result<std::vector<std::string>> Catalog::blob_ids_in_use() {
  std::lock_guard lock(read_mu_);
  Stmt st(reader_, kBlobIdsInUseSql);
  return collect<std::string>(st, [](const Stmt& s) { return s.text(0); });
}

}  // namespace attachgate::store
