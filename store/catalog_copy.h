// store/catalog_copy.h - copies a catalog's rows, ids kept, into another
// catalog of the same schema version, on either engine, resumably.
//
// Tables go in kCopyOrder (catalog_columns.h), each in batches ordered by
// its key, one destination transaction per batch. Stopped at any point (a
// kill, a lost connection), a copy is resumed by running it again: a table
// starts after the highest key the destination holds, and a row whose key
// is there already is skipped, so nothing is copied twice. Before copying,
// check_destination() makes sure the destination holds nothing but a
// beginning of this source (the same rows), and the same master key check
// value if any; afterwards finish() moves the destination's id sequences
// past every id copied. Values are read and bound by column type, so each
// engine's driver keeps them in its own types (bytea, bigint).
#pragma once

#include <cstdint>
#include <functional>

#include "store/catalog_columns.h"
#include "store/sql.h"
#include "util/result.h"

namespace attachgate::store {

struct TableCopyReport {
  CatalogTable table = CatalogTable::messages;
  std::int64_t source_rows = 0;  // in the source's snapshot
  std::int64_t copied = 0;       // inserted by this run
  std::int64_t already = 0;      // in the destination before this run
};

// count(*) of a table.
Result<std::int64_t> count_rows(Db& db, CatalogTable table);

class CatalogCopier {
 public:
  using Progress = std::function<void(const TableCopyReport&)>;

  // Both catalogs at the same schema version; the source is only read.
  CatalogCopier(Db& source, Db& destination, int batch_rows = 500)
      : source_(source), destination_(destination), batch_rows_(batch_rows) {}

  // An Error that says what to do if the destination holds rows this
  // source does not (another installation's data), or another key check value.
  Status check_destination();
  // Copies what the destination lacks of one table; progress after each batch.
  Result<TableCopyReport> copy_table(CatalogTable table, const Progress& progress = {});
  // The destination's next ids come after every id copied, and after every
  // event id the source ever gave out (webhooks follow event ids).
  Status finish();

 private:
  Db& source_;
  Db& destination_;
  int batch_rows_;
};

}  // namespace attachgate::store
