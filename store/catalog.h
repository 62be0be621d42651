// store/catalog.h - the metadata database (SQLite, WAL).
//
// One Catalog is one connection; its methods are safe to call from several
// threads (they serialise on the connection). Several processes may open the
// same file: SQLite's locking and busy_timeout arbitrate. Writes that belong
// together (an offload) commit in one transaction or not at all. The schema
// is versioned with PRAGMA user_version and migrated forward on open; a file
// from a newer attachgate is refused rather than guessed at.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/records.h"
#include "store/sqlite.h"
#include "util/result.h"

namespace attachgate::store {

enum class Claim { won, used_up, unavailable };

class Catalog {
 public:
  static Result<Catalog> open(const std::string& path);
  Catalog(Catalog&& o) noexcept : db_(std::move(o.db_)) {}

  int schema_version();
  static int latest_schema_version();

  // Writes.
  Result<OffloadIds> record_offload(const Offload& offload);
  Result<std::int64_t> add_event(const EventRecord& event);
  // The download claim: one guarded UPDATE. `won` for exactly one of any
  // number of racing callers when one download is left.
  Result<Claim> claim_download(std::int64_t link_id, std::int64_t file_id, std::int64_t now);
  // Deletes a message and everything hanging off it (an offload whose mail
  // never left); returns the blob ids the caller must now remove.
  Result<std::vector<std::string>> remove_message(std::int64_t message_id);
  // true if a stored row was marked now (false: already marked, or no row).
  Result<bool> mark_blob_missing(const std::string& blob_id);

  // Reads.
  Result<std::optional<LinkRecord>> find_link_by_token_hash(const std::string& token_hash);
  Result<std::vector<LinkFile>> link_files(std::int64_t link_id);
  Result<std::optional<FileRecord>> find_file(const std::string& public_id);
  Result<std::vector<MessageSummary>> list_messages(int limit);
  // By public id or Postfix queue id.
  Result<std::optional<MessageDetail>> show_message(const std::string& id);
  Result<std::vector<std::string>> blob_ids_in_use();
  Result<std::int64_t> count(const char* table);  // for tests and stats

 private:
  explicit Catalog(Db db) : db_(std::move(db)) {}
  Status migrate(const std::string& path);
  Result<std::optional<MessageRecord>> message_by(const std::string& id);

  Db db_;
  std::mutex mu_;
};

}  // namespace attachgate::store
