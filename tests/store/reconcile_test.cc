// Tests store/reconcile.cc: what a crash leaves behind is put right at start.
#include "store/reconcile.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "store/secrets.h"
#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::store {
namespace {

BlobInfo put(const BlobStore& blobs, const std::string& data) {
  auto w = blobs.create();
  EXPECT_TRUE(w.ok());
  EXPECT_TRUE(w->write(data.data(), data.size()).ok());
  return w->commit().value();
}

Offload offload_of(const BlobInfo& blob, const TokenHasher& hasher) {
  Offload o;
  o.now = 1'790'000'000;
  o.message.queue_id = "Q1";
  o.files.push_back({"a.bin", "application/octet-stream", blob});
  NewLink link;
  link.token_hash = hasher.hash(new_token());
  link.pixel_id = new_public_id(16);
  link.expires_at = o.now + 3600;
  o.links.push_back(link);
  return o;
}

// A blob directory that cannot be listed (or an S3 listing that failed)
// must stop reconciliation, not read as "no blobs" and mark every file
// missing.
TEST(Reconcile, AListingThatFailsMarksNothingMissing) {
  testing::TempDir dir;
  auto store = Store::open(dir.path());
  ASSERT_TRUE(store.ok()) << store.error().message;
  BlobInfo blob = put((*store)->blobs, "kept");
  ASSERT_TRUE((*store)->catalog.record_offload(offload_of(blob, (*store)->tokens)).ok());
  const std::string blobs = (*store)->blobs.dir();
  ASSERT_EQ(::rename(blobs.c_str(), (blobs + ".away").c_str()), 0);
  {
    std::ofstream in_the_way(blobs);  // not a directory
  }
  auto report = reconcile((*store)->blobs, (*store)->catalog, 0);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message.find("cannot list"), std::string::npos) << report.error().message;
  ASSERT_EQ(::unlink(blobs.c_str()), 0);
  ASSERT_EQ(::rename((blobs + ".away").c_str(), blobs.c_str()), 0);
  auto again = reconcile((*store)->blobs, (*store)->catalog, 0);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->missing_blobs.empty());
  EXPECT_TRUE((*store)->blobs.exists(blob.id));
}

TEST(Reconcile, CrashBetweenWriteAndRenameIsCleanedAtStart) {
  testing::TempDir dir;
  auto store = Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path()));
  ASSERT_TRUE(store.ok()) << store.error().message;
  // A child process writes a blob and dies before commit(): no destructor runs.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto w = (*store)->blobs.create();
    std::string data(300'000, 'z');
    if (!w || !w->write(data.data(), data.size())) ::_exit(1);
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ((*store)->blobs.list_unfinished()->size(), 1u);

  // Too young to touch: a live writer in another process may own it.
  auto young = reconcile((*store)->blobs, (*store)->catalog, 3600);
  ASSERT_TRUE(young.ok());
  EXPECT_TRUE(young->removed_temp_files.empty());
  auto report = reconcile((*store)->blobs, (*store)->catalog, 0);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->removed_temp_files.size(), 1u);
  EXPECT_TRUE((*store)->blobs.list_unfinished()->empty());
}

TEST(Reconcile, OrphanBlobsRemovedAndMissingBlobsMarked) {
  testing::TempDir dir;
  auto store = Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path()));
  ASSERT_TRUE(store.ok());
  auto& s = **store;
  BlobInfo kept = put(s.blobs, "recorded");
  BlobInfo orphan = put(s.blobs, "never recorded: its transaction rolled back");
  BlobInfo lost = put(s.blobs, "recorded, then its file vanished");
  ASSERT_TRUE(s.catalog.record_offload(offload_of(kept, s.tokens)).ok());
  ASSERT_TRUE(s.catalog.record_offload(offload_of(lost, s.tokens)).ok());
  ASSERT_TRUE(s.blobs.remove(lost.id).ok());

  auto report = reconcile(s.blobs, s.catalog, 0);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->removed_orphan_blobs, std::vector<std::string>{orphan.id});
  EXPECT_EQ(report->missing_blobs, std::vector<std::string>{lost.id});
  EXPECT_TRUE(s.blobs.exists(kept.id));
  EXPECT_FALSE(s.blobs.exists(orphan.id));
  auto detail = s.catalog.show_message("Q1");
  ASSERT_TRUE(detail.ok());
  // The newest Q1 is the one whose blob was lost.
  EXPECT_EQ((*detail)->files[0].state, FileState::missing);
  // A second pass finds nothing more to do.
  auto again = reconcile(s.blobs, s.catalog, 0);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->removed_orphan_blobs.empty() && again->missing_blobs.empty());
}

TEST(WriterLock, SoleOnlyWhileNoOtherWriterLives) {
  testing::TempDir dir;
  auto store = Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path()));
  ASSERT_TRUE(store.ok());
  const BlobStore& blobs = (*store)->blobs;
  {
    auto first = WriterLock::acquire(blobs);
    ASSERT_TRUE(first.ok()) << first.error().message;
    EXPECT_TRUE(first->sole());
    ASSERT_TRUE(first->share().ok());
    auto second = WriterLock::acquire(blobs);
    ASSERT_TRUE(second.ok());
    EXPECT_FALSE(second->sole());
  }
  auto again = WriterLock::acquire(blobs);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->sole()) << "locks are released with their holders";
}

// The milter crash case: a writer killed in the middle of a blob leaves a
// young temp file; the next start sees no live writer and removes it at once.
TEST(WriterLock, KilledWriterLeavesNothingAfterRestart) {
  testing::TempDir dir;
  auto store = Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path()));
  ASSERT_TRUE(store.ok());
  const BlobStore& blobs = (*store)->blobs;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto lock = WriterLock::acquire(blobs);
    if (!lock || !lock->share()) ::_exit(1);
    auto w = blobs.create();
    std::string data(300'000, 'z');
    if (!w || !w->write(data.data(), data.size())) ::_exit(1);
    if (::write(ready[1], "x", 1) != 1) ::_exit(1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  {
    auto busy = WriterLock::acquire(blobs);
    ASSERT_TRUE(busy.ok());
    EXPECT_FALSE(busy->sole()) << "a live writer holds the lock";
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_EQ(blobs.list_unfinished()->size(), 1u);

  auto lock = WriterLock::acquire(blobs);
  ASSERT_TRUE(lock.ok());
  ASSERT_TRUE(lock->sole());
  auto report = reconcile(blobs, (*store)->catalog, lock->sole() ? 0 : 3600);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->removed_temp_files.size(), 1u);
  EXPECT_TRUE(blobs.list_unfinished()->empty());
}

}  // namespace
}  // namespace attachgate::store
