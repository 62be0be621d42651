// store/reconcile.cc - see reconcile.h.
#include "store/reconcile.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <ctime>
#include <set>

#include "util/fs_sync.h"

namespace attachgate::store {
Result<ReconcileReport> reconcile(const BlobStore& blobs, AdminCatalog& catalog,
                                  std::int64_t min_age_seconds) {
  ReconcileReport report;
  const std::int64_t now = std::time(nullptr);
  auto unfinished = blobs.list_unfinished();
  if (!unfinished) return unfinished.error();
  for (const auto& object : *unfinished) {
    if (now - object.started < min_age_seconds) continue;
    if (auto s = blobs.remove_unfinished(object); !s) return s.error();
    report.removed_temp_files.push_back(object.name);
  }

  auto in_use = catalog.blob_ids_in_use();
  if (!in_use) return in_use.error();
  // A listing that failed must not read as "every blob is missing".
  auto stored = blobs.list_blobs();
  if (!stored) return stored.error();
  const std::set<std::string> rows(in_use->begin(), in_use->end());
  std::set<std::string> present;
  for (const auto& object : *stored) {
    present.insert(object.id);
    if (rows.count(object.id)) continue;
    if (now - object.modified < min_age_seconds) continue;
    if (auto s = blobs.remove(object.id); !s) return s.error();
    report.removed_orphan_blobs.push_back(object.id);
  }
  for (const auto& id : rows) {
    if (present.count(id)) continue;
    auto marked = catalog.mark_blob_missing(id);
    if (!marked) return marked.error();
    if (*marked) report.missing_blobs.push_back(id);
  }
  return report;
}

Result<WriterLock> WriterLock::acquire(const BlobStore& blobs) {
  // A remote store has no lock to take: writers on other nodes are never
  // known to be gone, so unfinished writes are left min_age to finish.
  if (blobs.dir().empty()) return WriterLock(UniqueFd(), false);
  const std::string dir = blobs.dir() + "/tmp";
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return make_error(errno_text("open " + dir));
  int rc;
  while ((rc = ::flock(fd.get(), LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {}
  if (rc == 0) return WriterLock(std::move(fd), true);
  if (errno != EWOULDBLOCK) return make_error(errno_text("flock " + dir));
  // Another writer is alive (or reconciling): share with it.
  while ((rc = ::flock(fd.get(), LOCK_SH)) != 0 && errno == EINTR) {}
  if (rc != 0) return make_error(errno_text("flock " + dir));
  return WriterLock(std::move(fd), false);
}

Status WriterLock::share() {
  if (!sole_) return {};
  int rc;
  while ((rc = ::flock(fd_.get(), LOCK_SH)) != 0 && errno == EINTR) {}
  if (rc != 0) return make_error(errno_text("flock " + std::string("blobs/tmp")));
  sole_ = false;
  return {};
}

}  // namespace attachgate::store
