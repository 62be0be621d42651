// store/catalog_internal.h - statements shared by the catalog's source
// files, run inside a transaction the caller holds. Not for use outside
// store/catalog*.cc.
#pragma once

#include <vector>

#include "store/records.h"
#include "store/sealer.h"
#include "store/sqlite.h"

namespace attachgate::store {

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

}  // namespace attachgate::store
