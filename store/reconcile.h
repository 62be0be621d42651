// store/reconcile.h - start-up agreement between blob files and catalog rows.
//
// After a crash the blob store and the catalog can disagree. Temporary
// files (or open multipart uploads) are writes that never committed; blobs without a row belong to a transaction
// that rolled back: both are removed. Rows whose blob is missing are marked
// `missing` and reported, never silently dropped. Only files older than
// min_age are touched, so a milter busy writing in another process keeps
// the blob it has not recorded yet; unless a WriterLock shows that no other
// writer is alive, in which case everything left over goes at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/blob_store.h"
#include "store/catalog_roles.h"
#include "util/fs_sync.h"

namespace attachgate::store {

struct ReconcileReport {
  std::vector<std::string> removed_temp_files;  // and aborted multipart uploads
  std::vector<std::string> removed_orphan_blobs;
  std::vector<std::string> missing_blobs;  // rows marked 'missing'
};

Result<ReconcileReport> reconcile(const BlobStore& blobs, AdminCatalog& catalog,
                                  std::int64_t min_age_seconds = 3600);

// Every process that creates blobs holds a shared flock on the blob store's
// temp directory for as long as it runs; the kernel drops it when the
// process dies, however it dies. acquire() takes it exclusively when it can:
// then no other writer is alive, sole() is true, and reconciling with
// min_age 0 is safe (a crashed milter's half-written blob is removed on
// restart, not an hour later). share() then lets other writers in.
class WriterLock {
 public:
  static Result<WriterLock> acquire(const BlobStore& blobs);
  bool sole() const { return sole_; }
  Status share();

 private:
  WriterLock(UniqueFd fd, bool sole) : fd_(std::move(fd)), sole_(sole) {}
  UniqueFd fd_;
  bool sole_ = false;
};

}  // namespace attachgate::store
