// store/reconcile.h - start-up agreement between blob files and catalog rows.
//
// After a crash the disk and the catalog can disagree. Temporary files are
// writes that never committed; blobs without a row belong to a transaction
// that rolled back: both are removed. Rows whose blob is missing are marked
// `missing` and reported, never silently dropped. Only files older than
// min_age are touched, so a milter busy writing in another process keeps
// the blob it has not recorded yet.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/blob_store.h"
#include "store/catalog.h"

namespace attachgate::store {

struct ReconcileReport {
  std::vector<std::string> removed_temp_files;
  std::vector<std::string> removed_orphan_blobs;
  std::vector<std::string> missing_blobs;  // rows marked 'missing'
};

Result<ReconcileReport> reconcile(const BlobStore& blobs, Catalog& catalog,
                                  std::int64_t min_age_seconds = 3600);

}  // namespace attachgate::store
