// store/catalog_internal.h - statements shared by the catalog's source
// files, run inside a transaction the caller holds. Not for use outside
// store/ (catalog*.cc, and migrate.cc, which reads a catalog as rows).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/records.h"
#include "store/sealer.h"
#include "store/sql.h"

namespace attachgate::store {

// The blob ids the catalog still needs: files not purged (a missing one
// too: its blob may come back) and recipient copies (a sent one has none).
inline constexpr const char* kBlobIdsInUseSql =
    "SELECT blob_id FROM files WHERE state != 'purged'"
    " UNION ALL SELECT blob_id FROM outbox WHERE blob_id IS NOT NULL";

Status insert_event(Db& db, const EventRecord& event);
// Seals the payload with sealer, bound to the new row; null: an Error.
// link_id: the link a recipient copy carries (see NewOutboxItem::link_index).
Status insert_outbox(Db& db, const Sealer* sealer, const NewOutboxItem& item,
                     std::optional<std::int64_t> link_id = std::nullopt);
// A link of message_id granting each of file_ids; its row id.
Result<std::int64_t> insert_link(Db& db, std::int64_t message_id, const NewLink& link,
                                 const std::vector<std::int64_t>& file_ids, std::int64_t now);
// An event from the first ten columns of a row: id, message_id, file_id,
// link_id, kind, at, recipient, remote_addr, user_agent, detail.
EventRecord read_event(const Stmt& st);
// A link from a row of kLinkCols, in that order.
inline constexpr const char* kLinkCols =
    "id, message_id, recipient, pixel_id, expires_at, max_downloads, code_hash, track_opens,"
    " failed_codes, locked_until, revoked_at, created_at, queue_id";
LinkRecord read_link(const Stmt& st);

// A column whose text the schema's CHECK (or, for messages.outcome, the
// catalog's own writes) limits to the names of an enum (records.h), read
// as that enum with from (file_state_from, ...). Other text means the CHECK
// was bypassed or the schema and the enum disagree: a broken invariant,
// not a value to guess at.
template <class E>
E enum_column(const Stmt& st, int col, std::optional<E> (*from)(std::string_view),
              const char* column) {
  const std::string text = st.text(col);
  if (auto value = from(text)) return *value;
  panic(("catalog: " + std::string(column) + " \"" + text + "\" is not one the schema allows")
            .c_str());
}

}  // namespace attachgate::store
