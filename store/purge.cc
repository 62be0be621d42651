// store/purge.cc - see purge.h.
#include "store/purge.h"

namespace attachgate::store {

Result<PurgeReport> purge(const BlobStore& blobs, AdminCatalog& catalog, std::int64_t now,
                          std::int64_t retention_seconds, const PurgeProgress& progress) {
  PurgeReport report;
  auto locked = catalog.try_lock_purge();
  if (!locked) return locked.error();
  if (!*locked) {
    report.elsewhere = true;
    return report;
  }
  struct Unlock {
    AdminCatalog& catalog;
    ~Unlock() { (void)catalog.unlock_purge(); }
  } unlock{catalog};
  auto candidates = catalog.purgeable_files(now);
  if (!candidates) return candidates.error();
  const int total = static_cast<int>(candidates->size());
  int done = 0;
  for (const auto& file : *candidates) {
    auto marked = catalog.mark_purged(file, now);
    if (!marked) return marked.error();
    ++done;
    if (!*marked) continue;
    if (auto s = blobs.remove(file.blob_id); !s) report.problems.push_back(s.error().message);
    ++report.files;
    report.bytes += file.size;
    if (progress) progress(file, done, total);
  }
  auto forgotten = catalog.forget_before(now - retention_seconds);
  if (!forgotten) return forgotten.error();
  report.forgotten = *forgotten;
  return report;
}

}  // namespace attachgate::store
