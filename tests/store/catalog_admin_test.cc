// Tests store/catalog_admin.cc: revoke and extend a message's links (with
// their events, and idempotence), resolving ids, and the numbers of stats.
#include "store/catalog.h"

#include <gtest/gtest.h>

#include "store/secrets.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::store {
namespace {

constexpr std::int64_t kNow = 1'790'000'000;  // 2026-09-21 14:13:20 UTC
constexpr std::int64_t kDay = 86400;

class CatalogAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
    ASSERT_TRUE(c.ok()) << c.error().message;
    catalog_.emplace(std::move(*c));
  }

  // One message with `files` files of 1000 bytes each behind one link, offloaded at `now`.
  OffloadIds offload(const std::string& queue_id, std::int64_t now, int files = 1,
                     std::int64_t expires_in = 7 * kDay) {
    Offload o;
    o.now = now;
    o.message.queue_id = queue_id;  // field by field: NewMessage grows
    o.message.sender = "alice@example.org";
    o.message.recipients = {"bob@example.net"};
    for (int i = 0; i < files; ++i)
      o.files.push_back({"f" + std::to_string(i) + ".pdf", "application/pdf",
                         BlobInfo{new_public_id(16), 1000, std::string(64, '0')}});
    NewLink link;
    link.token_hash = hasher_.hash(tokens_.emplace_back(new_token()));
    link.pixel_id = new_public_id(16);
    link.expires_at = now + expires_in;
    o.links.push_back(link);
    auto ids = catalog_->record_offload(o);
    EXPECT_TRUE(ids.ok()) << ids.error().message;
    return *ids;
  }

  LinkRecord link(std::size_t i) {
    auto l = catalog_->find_link_by_token_hash(hasher_.hash(tokens_.at(i)));
    EXPECT_TRUE(l.ok() && l->has_value());
    return **l;
  }

  std::vector<EventRecord> events_of(const std::string& id, EventKind kind) {
    auto detail = catalog_->show_message(id);
    EXPECT_TRUE(detail.ok() && detail->has_value()) << id;
    std::vector<EventRecord> out;
    if (!detail.ok() || !detail->has_value()) return out;
    for (const auto& e : (*detail)->events)
      if (e.kind == kind) out.push_back(e);
    return out;
  }

  testing::TempDir dir_;
  std::optional<Catalog> catalog_;
  TokenHasher hasher_{Key{}};
  std::vector<std::string> tokens_;
};

TEST_F(CatalogAdminTest, MessageRowIdTakesPublicOrQueueId) {
  auto ids = offload("4F2A1B3C", kNow);
  EXPECT_EQ(catalog_->message_row_id(ids.message_public_id).value(), ids.message_id);
  EXPECT_EQ(catalog_->message_row_id("4F2A1B3C").value(), ids.message_id);
  EXPECT_FALSE(catalog_->message_row_id("nosuch").value().has_value());
  EXPECT_FALSE(catalog_->message_row_id("").value().has_value());
}

TEST_F(CatalogAdminTest, RevokeEndsTheLinksOnceAndRecordsIt) {
  auto ids = offload("Q1", kNow);
  auto other = offload("Q2", kNow);
  auto first = catalog_->revoke_message_links(ids.message_id, kNow + 60, "admin root");
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->links, 1);
  EXPECT_EQ(link(0).revoked_at, kNow + 60);
  EXPECT_EQ(link_state(link(0), {0}, kNow + 61), LinkState::revoked);
  EXPECT_FALSE(link(1).revoked_at.has_value()) << "another message's link was revoked";

  auto revoked = events_of("Q1", EventKind::revoked);
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].detail, "by admin root");
  EXPECT_EQ(revoked[0].link_id, ids.link_ids[0]);
  EXPECT_EQ(revoked[0].at, kNow + 60);

  // Twice: nothing changes, nothing is recorded, the first time stands.
  auto second = catalog_->revoke_message_links(ids.message_id, kNow + 120, "admin root");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->links, 0);
  EXPECT_EQ(link(0).revoked_at, kNow + 60);
  EXPECT_EQ(events_of("Q1", EventKind::revoked).size(), 1u);
  // A revoked link cannot be claimed.
  NewDownload d;
  d.link_id = ids.link_ids[0];
  d.file_ids = {catalog_->link_files(ids.link_ids[0]).value()[0].file.id};
  d.ticket_hash = hasher_.hash(new_token());
  d.now = d.resume_until = kNow + 130;
  EXPECT_EQ(catalog_->claim_download(d).value().outcome, Claim::unavailable);
  (void)other;
}

TEST_F(CatalogAdminTest, RevokedBlobsBecomePurgeable) {
  auto ids = offload("Q1", kNow, 2);
  EXPECT_TRUE(catalog_->purgeable_files(kNow + 10).value().empty());
  ASSERT_TRUE(catalog_->revoke_message_links(ids.message_id, kNow + 5, "admin").ok());
  auto purgeable = catalog_->purgeable_files(kNow + 10).value();
  ASSERT_EQ(purgeable.size(), 2u);
  EXPECT_EQ(purgeable[0].reason, PurgeReason::revoked);
}

// The listing goes in spans of 5,000 file ids (catalog_purge.cc): files in
// the first span and in the third, past a span of none, are all found.
TEST_F(CatalogAdminTest, PurgeableFilesAreListedAcrossSpansOfIds) {
  auto first = offload("Q1", kNow, 1, 60);
  auto db = Db::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
  ASSERT_TRUE(db.ok()) << db.error().message;
  // 12,000 purged files of the first message move the next file's id on.
  std::string fill =
      "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 12001)"
      " INSERT INTO files (id, public_id, message_id, filename, content_type, size, sha256,"
      " blob_id, state, created_at) SELECT i, 'p' || i, " + std::to_string(first.message_id) +
      ", 'x.pdf', 'application/pdf', 1, '', 'b' || i, 'purged', 0 FROM n";
  ASSERT_TRUE(db->exec(fill.c_str()).ok());
  if (db->engine() == Engine::postgres) {
    ASSERT_TRUE(db->exec("SELECT setval(pg_get_serial_sequence('files', 'id'), 12001)").ok());
  }
  auto second = offload("Q2", kNow, 2, 60);
  auto purgeable = catalog_->purgeable_files(kNow + 3600).value();
  ASSERT_EQ(purgeable.size(), 3u);
  EXPECT_EQ(purgeable[0].message_id, first.message_id);
  EXPECT_EQ(purgeable[1].file_id, 12002);
  EXPECT_EQ(purgeable[2].file_id, 12003);
  EXPECT_EQ(purgeable[2].message_id, second.message_id);
  EXPECT_EQ(purgeable[2].reason, PurgeReason::expired);
}

TEST_F(CatalogAdminTest, ExtendMovesActiveAndRevivesExpiredLinks) {
  auto active = offload("Q1", kNow, 1, kDay);
  auto change = catalog_->extend_message_links(active.message_id, 2 * kDay, kNow + 60, "admin");
  ASSERT_TRUE(change.ok()) << change.error().message;
  EXPECT_EQ(change->links, 1);
  EXPECT_EQ(change->expires_at, kNow + 3 * kDay);  // from the old expiry, not from now
  EXPECT_EQ(link(0).expires_at, kNow + 3 * kDay);
  auto extended = events_of("Q1", EventKind::extended);
  ASSERT_EQ(extended.size(), 1u);
  EXPECT_EQ(extended[0].detail, "until 2026-09-24T14:13:20Z by admin");
  EXPECT_EQ(extended[0].link_id, active.link_ids[0]);

  // Expired an hour ago: back for the duration, counted from now.
  auto expired = offload("Q2", kNow, 1, 60);
  const std::int64_t later = kNow + 3600;
  EXPECT_EQ(link_state(link(1), {0}, later), LinkState::expired);
  change = catalog_->extend_message_links(expired.message_id, 7200, later, "admin");
  ASSERT_TRUE(change.ok());
  EXPECT_EQ(change->expires_at, later + 7200);
  EXPECT_EQ(link_state(link(1), {0}, later), LinkState::active);
  EXPECT_TRUE(catalog_->purgeable_files(later).value().empty());
}

TEST_F(CatalogAdminTest, ExtendLeavesARevokedLinkRevoked) {
  auto ids = offload("Q1", kNow, 1, kDay);
  ASSERT_TRUE(catalog_->revoke_message_links(ids.message_id, kNow + 1, "admin").ok());
  auto change = catalog_->extend_message_links(ids.message_id, 7 * kDay, kNow + 2, "admin");
  ASSERT_TRUE(change.ok());
  EXPECT_EQ(change->links, 0);
  EXPECT_EQ(link(0).expires_at, kNow + kDay);
  EXPECT_EQ(link_state(link(0), {0}, kNow + 2), LinkState::revoked);
  EXPECT_TRUE(events_of("Q1", EventKind::extended).empty());
}

TEST_F(CatalogAdminTest, ExtendRefusesDurationsOutOfRange) {
  auto ids = offload("Q1", kNow);
  EXPECT_FALSE(catalog_->extend_message_links(ids.message_id, 0, kNow, "admin").ok());
  EXPECT_FALSE(catalog_->extend_message_links(ids.message_id, -5, kNow, "admin").ok());
  EXPECT_FALSE(catalog_->extend_message_links(ids.message_id, INT64_MAX, kNow, "admin").ok());
  EXPECT_EQ(link(0).expires_at, kNow + 7 * kDay);
}

TEST_F(CatalogAdminTest, StatsCountAKnownSequenceByDay) {
  const std::int64_t today = kNow - kNow % kDay;
  offload("Q1", today - 2 * kDay + 10, 2);  // two days ago: 1 message, 2 files
  auto ids = offload("Q2", today + 5, 3);   // today: 1 message, 3 files
  offload("Q3", today + 6, 1);              // today: 1 message, 1 file
  offload("Q4", today - 30 * kDay, 1, 90 * kDay);  // outside the window

  // One completed download today, one claimed but never completed.
  NewDownload d;
  d.link_id = ids.link_ids[0];
  d.file_ids = {catalog_->link_files(ids.link_ids[0]).value()[0].file.id};
  d.ticket_hash = hasher_.hash(new_token());
  d.now = today + 100;
  d.resume_until = today + 3700;
  auto won = catalog_->claim_download(d);
  ASSERT_TRUE(won.ok() && won->outcome == Claim::won);
  ASSERT_TRUE(catalog_->complete_download(won->download_id, today + 200).value());
  d.file_ids = {catalog_->link_files(ids.link_ids[0]).value()[1].file.id};
  d.ticket_hash = hasher_.hash(new_token());
  ASSERT_EQ(catalog_->claim_download(d).value().outcome, Claim::won);

  auto days = catalog_->stats_by_day(3, kNow);
  ASSERT_TRUE(days.ok()) << days.error().message;
  ASSERT_EQ(days->size(), 3u);
  EXPECT_EQ((*days)[0].day, today - 2 * kDay);
  EXPECT_EQ((*days)[0].messages, 1);
  EXPECT_EQ((*days)[0].files, 2);
  EXPECT_EQ((*days)[0].bytes, 2000u);
  EXPECT_EQ((*days)[0].downloads, 0);
  EXPECT_EQ((*days)[1].messages, 0);  // an empty day is listed too
  EXPECT_EQ((*days)[1].files, 0);
  EXPECT_EQ((*days)[2].day, today);
  EXPECT_EQ((*days)[2].messages, 2);
  EXPECT_EQ((*days)[2].files, 4);
  EXPECT_EQ((*days)[2].bytes, 4000u);
  EXPECT_EQ((*days)[2].downloads, 1);

  auto stored = catalog_->stored_totals();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->files, 7);
  EXPECT_EQ(stored->bytes, 7000u);
  // A purged file no longer counts as stored.
  ASSERT_TRUE(catalog_->revoke_message_links(ids.message_id, kNow, "admin").ok());
  auto gone = catalog_->purgeable_files(today + 3701).value();
  ASSERT_EQ(gone.size(), 3u);
  ASSERT_TRUE(catalog_->mark_purged(gone[0], today + 3701).value());
  EXPECT_EQ(catalog_->stored_totals()->files, 6);
  EXPECT_EQ(catalog_->stored_totals()->bytes, 6000u);
  EXPECT_TRUE(catalog_->stats_by_day(0, kNow)->empty());
}

}  // namespace
}  // namespace attachgate::store
