// store/reconcile.cc - see reconcile.h.
#include "store/reconcile.h"

#include <ctime>
#include <set>
#include <sys/stat.h>
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

Result<ReconcileReport> reconcile(const BlobStore& blobs, Catalog& catalog,
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

}  // namespace attachgate::store
