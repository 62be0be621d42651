// store/reconcile.cc - see reconcile.h.
#include "store/reconcile.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>
#include <ctime>
#include <set>
#include <unistd.h>

#include "util/fs_sync.h"

namespace attachgate::store {
namespace {

bool older_than(const std::string& path, std::int64_t min_age, std::time_t now) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return false;
  return now - st.st_mtime >= min_age;
}

}  // namespace

Result<ReconcileReport> reconcile(const BlobStore& blobs, AdminCatalog& catalog,
                                  std::int64_t min_age_seconds) {
  ReconcileReport report;
  const std::time_t now = std::time(nullptr);
  for (const auto& path : blobs.list_temp_files()) {
    if (!older_than(path, min_age_seconds, now)) continue;
    if (::unlink(path.c_str()) != 0) return make_error(errno_text("unlink " + path));
    report.removed_temp_files.push_back(path);
  }

  auto in_use = catalog.blob_ids_in_use();
  if (!in_use) return in_use.error();
  const std::set<std::string> rows(in_use->begin(), in_use->end());
  std::set<std::string> on_disk;
  for (const auto& id : blobs.list_blob_ids()) {
    on_disk.insert(id);
    if (rows.count(id)) continue;
    if (!older_than(blobs.dir() + "/" + id.substr(0, 2) + "/" + id, min_age_seconds, now)) continue;
    if (auto s = blobs.remove(id); !s) return s.error();
    report.removed_orphan_blobs.push_back(id);
  }
  for (const auto& id : rows) {
    if (on_disk.count(id)) continue;
    auto marked = catalog.mark_blob_missing(id);
    if (!marked) return marked.error();
    if (*marked) report.missing_blobs.push_back(id);
  }
  return report;
}

Result<WriterLock> WriterLock::acquire(const BlobStore& blobs) {
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
