// store/catalog_internal.h - statements shared by the catalog's source
// files, run inside a transaction the caller holds. Not for use outside
// store/catalog*.cc.
#pragma once

#include "store/records.h"
#include "store/sqlite.h"

namespace attachgate::store {

Status insert_event(Db& db, const EventRecord& event);
Status insert_outbox(Db& db, const NewOutboxItem& item);

}  // namespace attachgate::store
