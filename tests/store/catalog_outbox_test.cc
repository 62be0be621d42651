// Tests store/catalog_outbox.cc: payloads never reach the catalog's files in
// clear (the database, its WAL), are bound to their row, rows an older
// attachgate left in clear are sealed at start, and deleted content is
// overwritten (secure_delete); and a retried message's recipient copies
// name the copies an earlier attempt released.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <optional>
#include <map>
#include <thread>
#include <string>

#include "store/catalog.h"
#include "store/catalog_schema.h"
#include "store/secrets.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::store {
namespace {

constexpr std::int64_t kNow = 1'790'000'000;
constexpr char kCode[] = "1268126515";
const std::string kPayload = std::string(R"({"access_code":")") + kCode + R"(","status_token":"S"})";

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Key key_of(unsigned char fill) {
  Key k;
  k.fill(fill);
  return k;
}

class CatalogOutboxTest : public ::testing::Test {
 protected:
  void SetUp() override { open(key_of(7)); }

  void open(const Key& key) {
    catalog_.reset();
    auto c = Catalog::open(attachgate::testing::catalog_at(path_));
    ASSERT_TRUE(c.ok()) << c.error().message;
    catalog_.emplace(std::move(*c));
    ASSERT_TRUE(catalog_->set_outbox_key(key).ok());
  }

  // Everything SQLite wrote: the database and its WAL.
  std::string on_disk() const { return file_bytes(path_) + file_bytes(path_ + "-wal"); }

  NewOutboxItem receipt() const {
    return {OutboxKind::receipt, std::nullopt, "alice@example.org", kPayload, kNow};
  }

  testing::TempDir dir_;
  const std::string path_ = dir_ / "catalog.db";
  std::optional<Catalog> catalog_;
};

// Nodes sharing a PostgreSQL catalog each run a notifier: every due row
// goes to exactly one of them, however their reads race. (A SQLite catalog
// serves one node and its one notifier, which claims nothing.)
TEST_F(CatalogOutboxTest, NotifiersOnASharedCatalogNeverTakeTheSameRow) {
  if (catalog_->engine() != Engine::postgres) GTEST_SKIP() << "claims are for a shared catalog";
  constexpr int kRows = 60, kNodes = 4;
  for (int i = 0; i < kRows; ++i) ASSERT_TRUE(catalog_->enqueue(receipt()).ok());
  std::vector<Catalog> nodes;
  for (int i = 0; i < kNodes; ++i) {
    auto c = Catalog::open(attachgate::testing::catalog_at(path_));
    ASSERT_TRUE(c.ok()) << c.error().message;
    ASSERT_TRUE(c->set_outbox_key(key_of(7)).ok());
    nodes.push_back(std::move(*c));
  }
  std::vector<std::vector<std::int64_t>> taken(kNodes);
  std::vector<std::thread> threads;
  for (int n = 0; n < kNodes; ++n)
    threads.emplace_back([&, n] {
      for (int pass = 0; pass < 10; ++pass) {
        auto due = nodes[static_cast<std::size_t>(n)].claim_due_outbox(kNow, 7);
        ASSERT_TRUE(due.ok()) << due.error().message;
        for (const auto& item : *due) taken[static_cast<std::size_t>(n)].push_back(item.id);
      }
    });
  for (auto& t : threads) t.join();
  std::map<std::int64_t, int> times;
  for (const auto& ids : taken)
    for (auto id : ids) ++times[id];
  EXPECT_EQ(times.size(), static_cast<std::size_t>(kRows)) << "every row went to some node";
  for (const auto& [id, n] : times) EXPECT_EQ(n, 1) << "row " << id << " taken " << n << " times";
  // A claim runs out: a row whose node died comes due again.
  auto later = catalog_->claim_due_outbox(kNow + kOutboxClaimSeconds, 100);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->size(), static_cast<std::size_t>(kRows));
}

// A pass cut short (the relay died) hands back the rows it did not try:
// they are due at once, not when the claim runs out; a row it settled, or
// one a later claim took, is not touched.
TEST_F(CatalogOutboxTest, RowsHandedBackAreDueAgainAtOnce) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(catalog_->enqueue(receipt()).ok());
  auto due = catalog_->claim_due_outbox(kNow, 10).value();
  ASSERT_EQ(due.size(), 3u);
  ASSERT_TRUE(catalog_->outbox_sent(due[0].id, kNow).ok());
  ASSERT_TRUE(catalog_->hand_back_outbox({due[0].id, due[1].id, due[2].id}, kNow).ok());
  auto again = catalog_->claim_due_outbox(kNow + 1, 10).value();
  ASSERT_EQ(again.size(), 2u) << "the two untried rows are due again";
  EXPECT_EQ(again[0].id, due[1].id);
  EXPECT_EQ(again[1].id, due[2].id);
  // A hand-back naming an older claim leaves the newer one alone.
  ASSERT_TRUE(catalog_->hand_back_outbox({due[1].id}, kNow).ok());
  const std::size_t expected = catalog_->engine() == Engine::postgres ? 0u : 2u;
  EXPECT_EQ(catalog_->claim_due_outbox(kNow + 2, 10)->size(), expected);
}

TEST_F(CatalogOutboxTest, APayloadIsReadBackButNeverWrittenInClear) {
  auto id = catalog_->enqueue(receipt());
  ASSERT_TRUE(id.ok()) << id.error().message;
  auto due = catalog_->due_outbox(kNow, 10).value();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].kind, OutboxKind::receipt);
  EXPECT_EQ(due[0].payload, kPayload);
  EXPECT_EQ(due[0].unreadable, "");
  ASSERT_TRUE(catalog_->outbox_sent(*id, kNow).ok());
  EXPECT_EQ(on_disk().find(kCode), std::string::npos) << "the access code is on disk in clear";
}

TEST_F(CatalogOutboxTest, AnOffloadsHeldReceiptIsSealedToo) {
  Offload o;
  o.now = kNow;
  o.message.sender = "alice@example.org";
  NewOutboxItem r = receipt();
  r.held = true;
  o.outbox.push_back(r);
  auto ids = catalog_->record_offload(o);
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  EXPECT_TRUE(catalog_->due_outbox(kNow, 10)->empty()) << "held";
  ASSERT_TRUE(catalog_->release_outbox(ids->message_id, kNow).ok());
  auto due = catalog_->due_outbox(kNow, 10).value();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].payload, kPayload);
  EXPECT_EQ(due[0].message_id, ids->message_id);
  EXPECT_EQ(on_disk().find(kCode), std::string::npos);
}

TEST_F(CatalogOutboxTest, APayloadMovedToAnotherRowOrUnderAnotherKeyIsUnreadable) {
  ASSERT_TRUE(catalog_->enqueue(receipt()).ok());
  NewOutboxItem other = receipt();
  other.target = "mallory@example.net";
  other.payload = "{}";
  ASSERT_TRUE(catalog_->enqueue(other).ok());
  {
    // Someone with write access to the catalog copies the receipt's sealed
    // payload into the row addressed to them.
    auto db = Db::open(attachgate::testing::catalog_at(path_));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->exec("UPDATE outbox SET payload = (SELECT payload FROM outbox WHERE id = 1)"
                         " WHERE id = 2").ok());
  }
  auto due = catalog_->due_outbox(kNow, 10).value();
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].payload, kPayload);
  EXPECT_EQ(due[1].payload, "");
  EXPECT_NE(due[1].unreadable.find("failed authentication"), std::string::npos)
      << due[1].unreadable;

  open(key_of(8));
  due = catalog_->due_outbox(kNow, 10).value();
  ASSERT_EQ(due.size(), 2u);
  EXPECT_FALSE(due[0].unreadable.empty()) << "another key opens nothing";
}

TEST_F(CatalogOutboxTest, WithoutTheKeyTheOutboxRefusesToWriteOrRead) {
  catalog_.reset();
  auto c = Catalog::open(attachgate::testing::catalog_at(path_));
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->enqueue(receipt()).ok());
  EXPECT_FALSE(c->due_outbox(kNow, 10).ok());
  EXPECT_EQ(c->count(store::CatalogTable::outbox).value(), 0) << "nothing written in clear";
}

// A catalog from before sealing: its waiting rows are sealed at the next
// start, and read back the same.
TEST(CatalogOutboxMigration, RowsLeftInClearAreSealedAtStart) {
  testing::TempDir dir;
  const std::string path = dir / "catalog.db";
  {
    auto db = Db::open(attachgate::testing::catalog_at(path));
    ASSERT_TRUE(db.ok());
    for (int v = 0; v < 4; ++v) ASSERT_TRUE(db->exec(kMigrations[v]).ok()) << v;
    const std::string insert =
        "INSERT INTO outbox (kind, target, payload, next_attempt_at, created_at)"
        " VALUES ('receipt', 'alice@example.org', CAST('" + kPayload + "' AS BLOB), 5, 5);"
        "INSERT INTO outbox (kind, target, payload, next_attempt_at, created_at, sent_at)"
        " VALUES ('receipt', 'bob@example.org', x'', 5, 5, 6);"
        "PRAGMA user_version = 4";
    ASSERT_TRUE(db->exec(insert.c_str()).ok());
  }
  auto c = Catalog::open(attachgate::testing::catalog_at(path));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->schema_version(), Catalog::latest_schema_version());
  ASSERT_TRUE(c->set_outbox_key(key_of(7)).ok());
  auto due = c->due_outbox(kNow, 10).value();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].payload, kPayload);
  {
    auto db = Db::open(attachgate::testing::catalog_at(path));
    ASSERT_TRUE(db.ok());
    Stmt st(*db, "SELECT payload FROM outbox WHERE id = 1");
    ASSERT_TRUE(st.step().value());
    EXPECT_TRUE(Sealer::looks_sealed(st.text(0)));
  }
}

// secure_delete: what a deleted row held is zeroed in the database file, so
// once the WAL is checkpointed and truncated nothing of it is left. Debian
// builds SQLite with SECURE_DELETE on by default, others do not; this fails
// when the catalog sets the pragma OFF.
// The milter died after releasing an offload's copies and before the MTA
// had the message; the client sent it again. Each copy of the second
// offload to a recipient the first one's copy went to says "twice"; a
// first attempt whose copies stayed held (it never got that far), or
// another message, names nothing.
TEST_F(CatalogOutboxTest, ARetrysCopyNamesTheCopyAnEarlierAttemptReleased) {
  auto attempt = [&](const std::string& queue_id, const std::string& message_id, bool release) {
    Offload o;
    o.now = kNow;
    o.message.queue_id = queue_id;
    o.message.sender = "alice@example.org";
    o.message.header_message_id = message_id;
    o.message.recipients = {"ann@example.net", "bob@example.com"};
    NewLink link;
    link.token_hash = std::string(32, static_cast<char>(queue_id.back()));
    link.pixel_id = queue_id;
    link.recipient = "bob@example.com";
    link.expires_at = kNow + 86400;
    o.links.push_back(link);
    NewOutboxItem copy{OutboxKind::recipient_copy, std::nullopt, "bob@example.com", "", kNow};
    copy.held = true;
    copy.blob_id = "blob-" + queue_id;
    copy.link_index = 0;
    o.outbox.push_back(copy);
    auto ids = catalog_->record_offload(o);
    EXPECT_TRUE(ids.ok()) << ids.error().message;
    if (release) {
      EXPECT_TRUE(catalog_->release_outbox(ids->message_id, kNow).ok());
    }
    return ids->message_id;
  };
  auto queued_detail = [&](std::int64_t message_id, const std::string& queue_id) {
    auto due = catalog_->due_outbox(kNow, 10);
    EXPECT_TRUE(due.ok());
    for (const auto& item : *due)
      if (item.message_id == message_id) {
        EXPECT_TRUE(catalog_->copy_queued(item, "C" + queue_id, kNow).ok());
      }
    auto d = catalog_->show_message(queue_id).value().value();
    for (const auto& e : d.events)
      if (e.kind == EventKind::queued) return e.detail;
    return std::string("no queued event");
  };
  attempt("Q1", "<plans-1@example.org>", true);   // copies released, then the kill
  const auto retry = attempt("Q2", "<plans-1@example.org>", true);
  const std::string named = queued_detail(retry, "Q2");
  EXPECT_NE(named.find("an earlier attempt at this message (queue id Q1)"), std::string::npos)
      << named;
  EXPECT_NE(named.find("twice"), std::string::npos) << named;

  attempt("Q3", "<plans-2@example.org>", false);  // killed before its copies were released
  const auto clean = attempt("Q4", "<plans-2@example.org>", true);
  EXPECT_EQ(queued_detail(clean, "Q4"), "copy queued as CQ4");
  const auto other = attempt("Q5", "<plans-3@example.org>", true);
  EXPECT_EQ(queued_detail(other, "Q5"), "copy queued as CQ5");
}

TEST_F(CatalogOutboxTest, DeletedContentIsOverwrittenNotJustFreed) {
  Offload o;
  o.now = kNow;
  o.message.subject = "a subject that must go";
  auto ids = catalog_->record_offload(o);
  ASSERT_TRUE(ids.ok());
  ASSERT_TRUE(catalog_->remove_message(ids->message_id).ok());
  auto db = Db::open(attachgate::testing::catalog_at(path_));
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  EXPECT_EQ(on_disk().find("a subject that must go"), std::string::npos);
}

}  // namespace
}  // namespace attachgate::store
