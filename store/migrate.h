// store/migrate.h - moving an installation to other back ends: its catalog
// and blobs copied (SQLite and files to PostgreSQL and S3, or any pair),
// resumably, then checked.
//
// The source is only read: its catalog opened read-only and read in one
// snapshot, its blobs opened for reading. The destination catalog gets the
// current schema, then every row with its id (catalog_copy.h); the blobs
// the catalog refers to are copied as the ciphertext they are
// (blob_copy.h). Run again after a stop, it copies only what is missing.
// At the end every table's row count and every blob's SHA-256 is compared
// between the two; what differs is a problem in the report, not an Error.
// Errors (unreachable, not empty with other data, another master key) say
// what to do. attachgate must not run on the source meanwhile: what it
// writes after the snapshot is not copied.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/blob_backend.h"
#include "store/catalog_copy.h"
#include "util/result.h"

namespace attachgate::store {

// One installation's back ends, as its config names them.
struct MigrateEnd {
  std::string catalog;  // a SQLite file ("sqlite:PATH" or a path) or a PostgreSQL URL
  std::optional<std::string> password;
  std::string state_dir;  // where the defaults are (blobs.url "": <state_dir>/blobs)
  BlobsConfig blobs;
};

struct BlobTotals {
  std::int64_t total = 0;    // blobs the source catalog refers to
  std::int64_t done = 0;     // of those, gone through
  std::int64_t copied = 0;   // by this run
  std::int64_t already = 0;  // in the destination before
  std::int64_t missing_in_source = 0;  // referred to but not in the source's store
  std::uint64_t bytes_total = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_copied = 0;
};

struct TableCount {
  CatalogTable table = CatalogTable::messages;
  std::int64_t source = 0;
  std::int64_t destination = 0;
};

struct MigrateReport {
  std::vector<TableCopyReport> tables;
  BlobTotals blobs;
  std::vector<TableCount> counts;  // at the end, every table
  std::int64_t blobs_verified = 0;  // SHA-256 equal on both sides
  // What the check found different; empty: the destination is a whole copy.
  std::vector<std::string> problems;
  std::vector<std::string> warnings;  // e.g. a blob the source had lost already
};

// Told as the work goes; the default does nothing.
class MigrateProgress {
 public:
  virtual ~MigrateProgress() = default;
  virtual void phase(const std::string& /*what*/) {}
  // After each batch of rows, and once more (finished) at the table's end.
  virtual void table(const TableCopyReport& /*so_far*/, bool /*finished*/) {}
  virtual void blob(const BlobTotals& /*so_far*/, const std::string& /*id*/) {}
  virtual void verified(std::int64_t /*blobs*/, std::int64_t /*of*/) {}
};

struct MigrateOptions {
  int batch_rows = 500;
};

Result<MigrateReport> migrate_store(const MigrateEnd& from, const MigrateEnd& to,
                                    MigrateProgress& progress, const MigrateOptions& options = {});

}  // namespace attachgate::store
