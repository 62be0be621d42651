// tests/support/sync_counting_vfs.h - counts SQLite's fsyncs, for tests.
//
// While a SyncCountingVfs is alive it is SQLite's default VFS: every file
// opened from then on is the default VFS's own file, with a copy of its
// method table whose xSync also counts. Tests use it to show what reaches
// the disk (a commit under synchronous = FULL syncs the WAL; NORMAL does
// not). One at a time; connections opened under it must close before it goes.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

namespace attachgate::testing {

class SyncCountingVfs {
 public:
  SyncCountingVfs() {
    real_ = sqlite3_vfs_find(nullptr);
    vfs_ = *real_;
    vfs_.zName = "sync-counting";
    // Room after the real file for the method table it came with.
    vfs_.szOsFile = real_->szOsFile + static_cast<int>(sizeof(const sqlite3_io_methods*));
    vfs_.xOpen = &open;
    self() = this;
    sqlite3_vfs_register(&vfs_, 1);
  }
  ~SyncCountingVfs() {
    sqlite3_vfs_unregister(&vfs_);
    self() = nullptr;
  }
  SyncCountingVfs(const SyncCountingVfs&) = delete;
  SyncCountingVfs& operator=(const SyncCountingVfs&) = delete;

  int syncs() const { return syncs_.load(); }

 private:
  static SyncCountingVfs*& self() {
    static SyncCountingVfs* current = nullptr;
    return current;
  }
  static const sqlite3_io_methods*& original(sqlite3_file* f) {
    return *reinterpret_cast<const sqlite3_io_methods**>(reinterpret_cast<char*>(f) +
                                                         self()->real_->szOsFile);
  }
  static int sync(sqlite3_file* f, int flags) {
    ++self()->syncs_;
    return original(f)->xSync(f, flags);
  }
  static int open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out) {
    SyncCountingVfs* me = self();
    int rc = me->real_->xOpen(me->real_, name, f, flags, out);
    if (f->pMethods == nullptr) return rc;
    original(f) = f->pMethods;
    std::lock_guard lock(me->mu_);
    auto& copy = me->tables_[f->pMethods];
    if (!copy) {
      copy = std::make_unique<sqlite3_io_methods>(*f->pMethods);
      copy->xSync = &sync;
    }
    f->pMethods = copy.get();
    return rc;
  }

  sqlite3_vfs* real_ = nullptr;
  sqlite3_vfs vfs_{};
  std::atomic<int> syncs_{0};
  std::mutex mu_;
  std::map<const sqlite3_io_methods*, std::unique_ptr<sqlite3_io_methods>> tables_;
};

}  // namespace attachgate::testing
