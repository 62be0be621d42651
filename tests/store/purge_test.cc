// Tests store/purge.cc and catalog_purge.cc: only files no link can still
// download go, never one whose download may be resumed; old messages and
// their events are forgotten after the retention.
#include "store/purge.h"

#include <gtest/gtest.h>

#include "store/secrets.h"
#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::store {
namespace {

constexpr std::int64_t kNow = 1'790'000'000;
constexpr std::int64_t kDay = 86400;

class PurgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir_.path(), "", attachgate::testing::catalog_for_state(dir_.path()));
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
  }

  // One message, one file, one link; returns the link id.
  std::int64_t offload(int max_downloads = 1, std::int64_t expires_in = kDay) {
    auto w = store_->blobs.create();
    EXPECT_TRUE(w.ok());
    std::string data(100'000, 'p');
    EXPECT_TRUE(w->write(data.data(), data.size()).ok());
    BlobInfo blob = w->commit().value();
    blob_ids_.push_back(blob.id);
    Offload o;
    o.now = kNow;
    o.message.queue_id = "Q" + std::to_string(blob_ids_.size());
    o.files.push_back({"a.bin", "application/octet-stream", blob});
    NewLink link;
    link.token_hash = store_->tokens.hash(new_token());
    link.pixel_id = new_public_id(16);
    link.expires_at = kNow + expires_in;
    link.max_downloads = max_downloads;
    o.links.push_back(link);
    auto ids = store_->catalog.record_offload(o);
    EXPECT_TRUE(ids.ok());
    return ids->link_ids[0];
  }

  ClaimResult claim(std::int64_t link_id, std::int64_t resume_until) {
    NewDownload d;
    d.link_id = link_id;
    d.file_ids = {store_->catalog.link_files(link_id).value()[0].file.id};
    d.ticket_hash = store_->tokens.hash(new_token());
    d.now = kNow;
    d.resume_until = resume_until;
    return store_->catalog.claim_download(d).value();
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::vector<std::string> blob_ids_;
};

TEST_F(PurgeTest, ExpiredAndUsedUpGoLiveOnesStay) {
  offload(1, kDay);               // live
  offload(1, 60);                 // expires a minute in
  std::int64_t used = offload(1, kDay);
  auto won = claim(used, kNow + 30);
  ASSERT_EQ(won.outcome, Claim::won);
  ASSERT_TRUE(store_->catalog.complete_download(won.download_id, kNow + 1).value());

  std::vector<PurgeReason> seen;
  auto report = purge(store_->blobs, store_->catalog, kNow + 120, 90 * kDay,
                      [&](const PurgeCandidate& f, int, int) { seen.push_back(f.reason); });
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->files, 2);
  EXPECT_EQ(report->bytes, 200'000u);
  EXPECT_EQ(seen, (std::vector<PurgeReason>{PurgeReason::expired, PurgeReason::used_up}));
  EXPECT_TRUE(store_->blobs.exists(blob_ids_[0]));
  EXPECT_FALSE(store_->blobs.exists(blob_ids_[1]));
  EXPECT_FALSE(store_->blobs.exists(blob_ids_[2]));
  auto detail = store_->catalog.show_message("Q2").value().value();
  EXPECT_EQ(detail.files[0].state, FileState::purged);
  EXPECT_EQ(detail.events.back().kind, EventKind::purged);
  EXPECT_EQ(detail.events.back().detail, "expired");
  // Purging again finds nothing new; the purged rows are not orphans.
  EXPECT_EQ(purge(store_->blobs, store_->catalog, kNow + 120, 90 * kDay)->files, 0);
}

TEST_F(PurgeTest, AResumableDownloadKeepsItsBlob) {
  std::int64_t link = offload(1, kDay);
  ASSERT_EQ(claim(link, kNow + 600).outcome, Claim::won);
  // Used up, but the claimer may still resume until kNow + 600.
  EXPECT_EQ(purge(store_->blobs, store_->catalog, kNow + 10, 90 * kDay)->files, 0);
  EXPECT_TRUE(store_->blobs.exists(blob_ids_[0]));
  EXPECT_EQ(purge(store_->blobs, store_->catalog, kNow + 601, 90 * kDay)->files, 1);
  EXPECT_FALSE(store_->blobs.exists(blob_ids_[0]));
}

TEST_F(PurgeTest, RevokedGoesAndOldMessagesAreForgotten) {
  std::int64_t link = offload(1, kDay);
  {
    auto db = Db::open(attachgate::testing::catalog_at(dir_.path() + "/catalog.db"));
    ASSERT_TRUE(db.ok());
    Stmt st(*db, "UPDATE links SET revoked_at = ?1 WHERE id = ?2");
    ASSERT_TRUE(st.bind(1, kNow + 5).bind(2, link).run().ok());
  }
  auto first = purge(store_->blobs, store_->catalog, kNow + 10, 30 * kDay);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->files, 1);
  EXPECT_EQ(first->forgotten.messages, 0);  // within the retention
  EXPECT_EQ(store_->catalog.show_message("Q1").value().value().events.back().detail, "revoked");
  auto later = purge(store_->blobs, store_->catalog, kNow + 31 * kDay, 30 * kDay);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->forgotten.messages, 1);
  EXPECT_EQ(store_->catalog.count(store::CatalogTable::messages).value(), 0);
  EXPECT_EQ(store_->catalog.count(store::CatalogTable::events).value(), 0);
}

// Nodes sharing a PostgreSQL catalog purge one at a time: while one holds
// the purge lock, another's pass does nothing and says so; then it may.
TEST_F(PurgeTest, OneNodePurgesASharedCatalogAtATime) {
  if (store_->catalog.engine() != Engine::postgres) GTEST_SKIP() << "one node per SQLite catalog";
  offload(1, -kDay);  // expired: purgeable
  auto other = Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
  ASSERT_TRUE(other.ok()) << other.error().message;
  ASSERT_TRUE(other->try_lock_purge().value());
  EXPECT_FALSE(store_->catalog.try_lock_purge().value()) << "two nodes held the purge lock";
  auto skipped = purge(store_->blobs, store_->catalog, kNow, 30 * kDay);
  ASSERT_TRUE(skipped.ok()) << skipped.error().message;
  EXPECT_TRUE(skipped->elsewhere);
  EXPECT_EQ(skipped->files, 0);
  ASSERT_TRUE(other->unlock_purge().ok());
  auto done = purge(store_->blobs, store_->catalog, kNow, 30 * kDay);
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_FALSE(done->elsewhere);
  EXPECT_EQ(done->files, 1);
  EXPECT_TRUE(other->try_lock_purge().value()) << "the pass let go of the lock";
}

}  // namespace
}  // namespace attachgate::store
