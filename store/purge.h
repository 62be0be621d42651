// store/purge.h - deleting what no link can download any more.
//
// Run periodically by the web server and on demand by `attachgate purge`.
// Each file is first marked purged in the catalog (guarded: a download
// claimed or resumable meanwhile keeps it), then its blob is removed. A
// crash between the two leaves a blob with a purged row, which start-up
// reconciliation removes. Messages whose files are gone and whose links
// ended more than the retention ago are forgotten, with their events.
// On a catalog shared by several nodes one purges at a time (the purge
// lock); a node that finds it taken skips its pass.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/blob_store.h"
#include "store/catalog_roles.h"

namespace attachgate::store {

struct PurgeReport {
  int files = 0;
  std::uint64_t bytes = 0;
  ForgetReport forgotten;
  std::vector<std::string> problems;  // blobs that could not be removed
  bool elsewhere = false;  // another node was purging: this pass did nothing
};

using PurgeProgress = std::function<void(const PurgeCandidate& file, int done, int total)>;

Result<PurgeReport> purge(const BlobStore& blobs, AdminCatalog& catalog, std::int64_t now,
                          std::int64_t retention_seconds, const PurgeProgress& progress = {});

}  // namespace attachgate::store
