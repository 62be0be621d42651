// Tests store/catalog*.cc: migrations, the offload transaction, token
// lookup by hash, and the one-time download claim under racing threads.
#include "store/catalog.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "store/catalog_schema.h"
#include "store/secrets.h"
#include "tests/support/sync_counting_vfs.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::store {
namespace {

constexpr std::int64_t kNow = 1'790'000'000;

Offload sample_offload(const TokenHasher& hasher, const std::string& token, int max_downloads = 1,
                       std::vector<std::string> blob_ids = {std::string(32, 'a')}) {
  Offload o;
  o.now = kNow;
  o.message = {"4F2A1B3C", "alice@example.org", "Quarterly report", "alice", "192.0.2.7",
               {"bob@example.net", "carol@example.com"}, MessageOutcome::offloaded};
  for (const auto& id : blob_ids)
    o.files.push_back({"report.pdf", "application/pdf", BlobInfo{id, 1234, std::string(64, '0')}});
  NewLink link;
  link.token_hash = hasher.hash(token);
  link.pixel_id = new_public_id(16);
  link.expires_at = kNow + 7 * 86400;
  link.max_downloads = max_downloads;
  o.links.push_back(link);
  return o;
}

// A single-file claim with a fresh ticket, resumable for an hour.
Result<ClaimResult> claim_file(Catalog& c, std::int64_t link_id, std::int64_t file_id,
                               std::int64_t now) {
  NewDownload d;
  d.link_id = link_id;
  d.file_ids = {file_id};
  d.ticket_hash = TokenHasher(Key{}).hash(new_token());
  d.now = now;
  d.resume_until = now + 3600;
  return c.claim_download(d);
}

Claim claim(Catalog& c, std::int64_t link_id, std::int64_t file_id, std::int64_t now) {
  auto r = claim_file(c, link_id, file_id, now);
  return r ? r->outcome : Claim::unavailable;
}

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
    ASSERT_TRUE(c.ok()) << c.error().message;
    catalog_.emplace(std::move(*c));
  }
  testing::TempDir dir_;
  std::optional<Catalog> catalog_;
  TokenHasher hasher_{Key{}};
};

TEST_F(CatalogTest, MigratesFromEmptyToLatest) {
  EXPECT_EQ(catalog_->schema_version(), Catalog::latest_schema_version());
  EXPECT_GE(Catalog::latest_schema_version(), 1);
  for (CatalogTable table : kCatalogTables)
    EXPECT_EQ(catalog_->count(table).value(), 0) << table_name(table);
  // Reopening an up-to-date catalog migrates nothing and keeps the rows.
  ASSERT_TRUE(catalog_->record_offload(sample_offload(hasher_, new_token())).ok());
  auto again = Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->count(store::CatalogTable::messages).value(), 1);
}

// /healthz asks ping(), not count(): count reads every row (at 10^6
// messages, tens of ms per health check on either engine).
TEST_F(CatalogTest, PingAnswersOnAnEmptyCatalogAndOnOneWithRows) {
  EXPECT_TRUE(catalog_->ping().ok());
  ASSERT_TRUE(catalog_->record_offload(sample_offload(hasher_, new_token())).ok());
  auto answered = catalog_->ping();
  EXPECT_TRUE(answered.ok()) << answered.error().message;
}

// A catalog written by an older attachgate keeps its rows through later
// migrations (3 rebuilds the events table to allow 'extended').
TEST(CatalogMigration, OlderCatalogKeepsItsEventsAndGainsNewKinds) {
  testing::TempDir dir;
  const std::string path = dir / "catalog.db";
  {
    auto db = Db::open(attachgate::testing::catalog_at(path));
    ASSERT_TRUE(db.ok());
    for (int v = 0; v < 2; ++v) ASSERT_TRUE(db->exec(kMigrations[v]).ok()) << v;
    ASSERT_TRUE(db->exec("INSERT INTO messages (id, public_id, outcome, created_at) VALUES (1, 'm1', 'offloaded', 5);"
                         "INSERT INTO events (message_id, kind, at, detail)"
                         " VALUES (1, 'downloaded', 7, 'complete');"
                         "PRAGMA user_version = 2").ok());
  }
  auto c = Catalog::open(attachgate::testing::catalog_at(path));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->schema_version(), Catalog::latest_schema_version());
  EXPECT_EQ(c->count(store::CatalogTable::events).value(), 1);
  EventRecord e;
  e.message_id = 1;
  e.kind = EventKind::extended;
  e.at = 9;
  ASSERT_TRUE(c->add_event(e).ok());
  auto shown = c->show_message("m1");
  ASSERT_TRUE(shown.ok() && shown->has_value());
  ASSERT_EQ((*shown)->events.size(), 2u);
  EXPECT_EQ((*shown)->events[0].detail, "complete");
  EXPECT_EQ((*shown)->events[1].kind, EventKind::extended);
}

TEST_F(CatalogTest, RefusesCatalogFromNewerVersion) {
  {
    auto db = Db::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->exec(db->engine() == Engine::postgres
                             ? "INSERT INTO schema_version (version) VALUES (999)"
                             : "PRAGMA user_version = 999")
                    .ok());
  }
  auto c = Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("schema version 999 is newer"), std::string::npos);
}

TEST_F(CatalogTest, OffloadIsRecordedWholeAndFoundByTokenHash) {
  const std::string token = new_token();
  auto ids = catalog_->record_offload(sample_offload(hasher_, token));
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  EXPECT_EQ(catalog_->count(store::CatalogTable::recipients).value(), 2);
  EXPECT_EQ(catalog_->count(store::CatalogTable::events).value(), 1);

  auto link = catalog_->find_link_by_token_hash(hasher_.hash(token));
  ASSERT_TRUE(link.ok());
  ASSERT_TRUE(link->has_value());
  EXPECT_EQ((*link)->message_id, ids->message_id);
  EXPECT_FALSE(catalog_->find_link_by_token_hash(hasher_.hash(new_token()))->has_value());
  // The token itself is nowhere in the database file.
  auto db = Db::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
  Stmt st(*db, "SELECT count(*) FROM links WHERE token_hash = ?1 OR CAST(token_hash AS TEXT) = ?2");
  ASSERT_TRUE(st.bind_blob(1, token).bind(2, token).step().value());
  EXPECT_EQ(st.int64(0), 0);

  auto detail = catalog_->show_message(ids->message_public_id);
  ASSERT_TRUE(detail.ok() && detail->has_value());
  EXPECT_EQ((*detail)->message.queue_id, "4F2A1B3C");
  EXPECT_EQ((*detail)->recipients.size(), 2u);
  ASSERT_EQ((*detail)->files.size(), 1u);
  EXPECT_EQ((*detail)->files[0].filename, "report.pdf");
  ASSERT_EQ((*detail)->events.size(), 1u);
  EXPECT_EQ((*detail)->events[0].kind, EventKind::offloaded);
  // Also found by queue id; unknown ids are "not found", not an error.
  EXPECT_TRUE(catalog_->show_message("4F2A1B3C")->has_value());
  EXPECT_FALSE(catalog_->show_message("nope")->has_value());
}

TEST_F(CatalogTest, FailedOffloadRollsBackEveryRow) {
  ASSERT_TRUE(catalog_->record_offload(sample_offload(hasher_, new_token())).ok());
  // Two files with the same blob id violate UNIQUE half-way through.
  auto bad = sample_offload(hasher_, new_token(), 1, {std::string(32, 'b'), std::string(32, 'b')});
  auto ids = catalog_->record_offload(bad);
  ASSERT_FALSE(ids.ok());
  EXPECT_EQ(catalog_->count(store::CatalogTable::messages).value(), 1);
  EXPECT_EQ(catalog_->count(store::CatalogTable::recipients).value(), 2);
  EXPECT_EQ(catalog_->count(store::CatalogTable::files).value(), 1);
  EXPECT_EQ(catalog_->count(store::CatalogTable::links).value(), 1);
  EXPECT_EQ(catalog_->count(store::CatalogTable::events).value(), 1);
  // The connection is usable afterwards.
  EXPECT_TRUE(catalog_->record_offload(sample_offload(hasher_, new_token(), 1, {std::string(32, 'c')})).ok());
}

TEST_F(CatalogTest, ClaimHonoursLimitExpiryAndRevocation) {
  const std::string token = new_token();
  auto ids = catalog_->record_offload(sample_offload(hasher_, token, 2));
  ASSERT_TRUE(ids.ok());
  auto link = catalog_->find_link_by_token_hash(hasher_.hash(token))->value();
  auto files = catalog_->link_files(link.id);
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);
  const auto file_id = (*files)[0].file.id;
  EXPECT_EQ(claim(*catalog_, link.id, file_id, link.expires_at), Claim::unavailable);
  EXPECT_EQ(claim(*catalog_, link.id, file_id, kNow), Claim::won);
  EXPECT_EQ(claim(*catalog_, link.id, file_id, kNow), Claim::won);
  EXPECT_EQ(claim(*catalog_, link.id, file_id, kNow), Claim::used_up);
  EXPECT_EQ(catalog_->link_files(link.id).value()[0].downloads, 2);
  EXPECT_EQ(claim(*catalog_, link.id, file_id + 999, kNow), Claim::unavailable);
}

// Every thread opens its own connection, as separate processes would, so
// only SQLite's locking and the guarded UPDATE stand between them.
TEST_F(CatalogTest, OneTimeClaimUnder32RacingThreadsHasExactlyOneWinner) {
  const std::string token = new_token();
  ASSERT_TRUE(catalog_->record_offload(sample_offload(hasher_, token, 1)).ok());
  auto link = catalog_->find_link_by_token_hash(hasher_.hash(token))->value();
  const auto file_id = catalog_->link_files(link.id).value()[0].file.id;

  std::atomic<int> winners{0}, losers{0}, errors{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 32; ++i) {
    threads.emplace_back([&] {
      auto c = Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
      if (!c) { ++errors; return; }
      while (!go) std::this_thread::yield();
      auto claim = claim_file(*c, link.id, file_id, kNow);
      if (!claim) ++errors;
      else if (claim->outcome == Claim::won) ++winners;
      else ++losers;
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(losers.load(), 31);
  EXPECT_EQ(catalog_->link_files(link.id).value()[0].downloads, 1);
}

TEST_F(CatalogTest, SharedConnectionAlsoHasExactlyOneWinner) {
  const std::string token = new_token();
  ASSERT_TRUE(catalog_->record_offload(sample_offload(hasher_, token, 1)).ok());
  auto link = catalog_->find_link_by_token_hash(hasher_.hash(token))->value();
  const auto file_id = catalog_->link_files(link.id).value()[0].file.id;
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 32; ++i)
    threads.emplace_back([&] {
      if (claim(*catalog_, link.id, file_id, kNow) == Claim::won) ++winners;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
}

TEST_F(CatalogTest, ListsNewestFirstWithTotals) {
  ASSERT_TRUE(catalog_->record_offload(sample_offload(hasher_, new_token(), 1, {std::string(32, '1')})).ok());
  auto second = sample_offload(hasher_, new_token(), 1, {std::string(32, '2'), std::string(32, '3')});
  second.now = kNow + 10;
  second.message.queue_id = "AAAA";
  ASSERT_TRUE(catalog_->record_offload(second).ok());
  auto list = catalog_->list_messages(10);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].message.queue_id, "AAAA");
  EXPECT_EQ((*list)[0].files, 2);
  EXPECT_EQ((*list)[0].bytes, 2468u);
  EXPECT_EQ((*list)[0].recipients, 2);
  EXPECT_EQ(catalog_->list_messages(1)->size(), 1u);
}

TEST_F(CatalogTest, EventsAreAppendedAndShown) {
  auto ids = catalog_->record_offload(sample_offload(hasher_, new_token()));
  ASSERT_TRUE(ids.ok());
  EventRecord e;
  e.message_id = ids->message_id;
  e.kind = EventKind::viewed;
  e.at = kNow + 5;
  e.remote_addr = "198.51.100.4";
  e.user_agent = "Mozilla/5.0 '; DROP TABLE events; --";
  ASSERT_TRUE(catalog_->add_event(e).ok());
  auto detail = catalog_->show_message(ids->message_public_id).value().value();
  ASSERT_EQ(detail.events.size(), 2u);
  EXPECT_EQ(detail.events[1].kind, EventKind::viewed);
  EXPECT_EQ(detail.events[1].user_agent, e.user_agent);
}


TEST_F(CatalogTest, ViewsCommitLazilyAndEverythingElseStaysFull) {
  auto ids = catalog_->record_offload(sample_offload(hasher_, new_token()));
  ASSERT_TRUE(ids.ok());
  testing::SyncCountingVfs vfs;  // a connection opened now counts its fsyncs
  auto c = Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->synchronous_level(), 2);
  EventRecord e;
  e.message_id = ids->message_id;
  e.at = kNow + 5;
  for (EventKind kind : {EventKind::viewed, EventKind::opened, EventKind::downloaded}) {
    e.kind = kind;
    const int before = vfs.syncs();
    ASSERT_TRUE(c->add_event(e).ok()) << to_string(kind);
    if (kind == EventKind::downloaded) EXPECT_GT(vfs.syncs(), before) << "a downloaded event must reach the disk";
    else EXPECT_EQ(vfs.syncs(), before) << to_string(kind) << " waited for the disk";
    EXPECT_EQ(c->synchronous_level(), 2) << "after " << to_string(kind);
  }
  // A view that fails (no such message) still leaves the connection at FULL.
  e.kind = EventKind::viewed;
  e.message_id = 999999;
  EXPECT_FALSE(c->add_event(e).ok());
  EXPECT_EQ(c->synchronous_level(), 2);
  // Committed, not merely buffered: the other connection sees all three.
  auto detail = catalog_->show_message(ids->message_public_id).value().value();
  ASSERT_EQ(detail.events.size(), 4u);
  EXPECT_EQ(detail.events[1].kind, EventKind::viewed);
  EXPECT_EQ(detail.events[2].kind, EventKind::opened);
}

TEST_F(CatalogTest, ClaimKeepsATicketThatOneCompletionCloses) {
  const std::string token = new_token();
  ASSERT_TRUE(catalog_->record_offload(sample_offload(hasher_, token, 1)).ok());
  auto link = catalog_->find_link_by_token_hash(hasher_.hash(token))->value();
  const auto file_id = catalog_->link_files(link.id).value()[0].file.id;
  const std::string ticket = new_token();
  NewDownload d;
  d.link_id = link.id;
  d.file_ids = {file_id};
  d.ticket_hash = hasher_.hash(ticket);
  d.now = kNow;
  d.resume_until = kNow + 600;
  auto won = catalog_->claim_download(d);
  ASSERT_TRUE(won.ok()) << won.error().message;
  ASSERT_EQ(won->outcome, Claim::won);
  auto found = catalog_->find_download(hasher_.hash(ticket)).value();
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, won->download_id);
  EXPECT_EQ(found->resume_until, kNow + 600);
  ASSERT_EQ(found->files.size(), 1u);
  EXPECT_EQ(found->files[0].id, file_id);
  EXPECT_FALSE(found->completed_at.has_value());
  EXPECT_FALSE(catalog_->find_download(hasher_.hash(new_token()))->has_value());
  EXPECT_TRUE(catalog_->complete_download(won->download_id, kNow + 5).value());
  EXPECT_FALSE(catalog_->complete_download(won->download_id, kNow + 6).value());
  EXPECT_EQ(catalog_->find_download(hasher_.hash(ticket))->value().completed_at, kNow + 5);
  // A losing claim leaves no ticket behind.
  d.ticket_hash = hasher_.hash(new_token());
  EXPECT_EQ(catalog_->claim_download(d)->outcome, Claim::used_up);
  EXPECT_EQ(catalog_->count(store::CatalogTable::downloads).value(), 1);
}

TEST_F(CatalogTest, AllFilesClaimTakesWhatIsLeft) {
  const std::string token = new_token();
  ASSERT_TRUE(catalog_->record_offload(sample_offload(hasher_, token, 1,
      {std::string(32, 'd'), std::string(32, 'e'), std::string(32, 'f')})).ok());
  auto link = catalog_->find_link_by_token_hash(hasher_.hash(token))->value();
  auto files = catalog_->link_files(link.id).value();
  ASSERT_EQ(files.size(), 3u);
  ASSERT_EQ(claim(*catalog_, link.id, files[1].file.id, kNow), Claim::won);
  NewDownload all;
  all.link_id = link.id;
  for (const auto& f : files) all.file_ids.push_back(f.file.id);
  all.all = true;
  all.ticket_hash = hasher_.hash(new_token());
  all.now = kNow;
  all.resume_until = kNow + 60;
  auto got = catalog_->claim_download(all);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->outcome, Claim::won);
  EXPECT_EQ(got->file_ids, (std::vector<std::int64_t>{files[0].file.id, files[2].file.id}));
  all.ticket_hash = hasher_.hash(new_token());
  EXPECT_EQ(catalog_->claim_download(all)->outcome, Claim::used_up);
  // A single-file claim that loses takes nothing, even inside a transaction.
  auto after = catalog_->link_files(link.id);  // kept: a range-for over value() of a temporary dangles
  for (const auto& f : after.value()) EXPECT_EQ(f.downloads, 1);
}

TEST_F(CatalogTest, FindsLinksByPixelAndMessagesById) {
  auto offload = sample_offload(hasher_, new_token());
  auto ids = catalog_->record_offload(offload);
  ASSERT_TRUE(ids.ok());
  auto link = catalog_->find_link_by_pixel(offload.links[0].pixel_id).value();
  ASSERT_TRUE(link.has_value());
  EXPECT_EQ(link->message_id, ids->message_id);
  EXPECT_FALSE(catalog_->find_link_by_pixel("nope")->has_value());
  auto message = catalog_->find_message(ids->message_id).value();
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->sender, "alice@example.org");
  EXPECT_FALSE(catalog_->find_message(ids->message_id + 1)->has_value());
}

// The enums of a message's and a file's row (records.h) go into the
// catalog as their names and come back as the same values, through every
// read: a lookup, a listing, and show.
TEST_F(CatalogTest, EnumColumnsComeBackAsTheyWentIn) {
  int n = 0;
  for (DownloadNotice notice : kDownloadNotices) {
    for (MessageOutcome outcome : kMessageOutcomes) {
      auto o = sample_offload(hasher_, new_token(), 1, {std::string(32, static_cast<char>('a' + n))});
      o.now = kNow + n++;
      o.download_notice = notice;
      o.message.outcome = outcome;
      auto ids = catalog_->record_offload(o);
      ASSERT_TRUE(ids.ok()) << ids.error().message;
      const std::string what = std::string(to_string(notice)) + ", " + std::string(to_string(outcome));
      auto found = catalog_->find_message(ids->message_id).value().value();
      EXPECT_EQ(found.download_notice, notice) << what;
      EXPECT_EQ(found.outcome, outcome) << what;
      // list_messages once read the notice from the recipient count's column.
      auto listed = catalog_->list_messages(1).value().at(0);
      EXPECT_EQ(listed.message.download_notice, notice) << what;
      EXPECT_EQ(listed.message.outcome, outcome) << what;
      EXPECT_EQ(listed.recipients, 2) << what;
      auto shown = catalog_->show_message(ids->message_public_id).value().value();
      EXPECT_EQ(shown.message.download_notice, notice) << what;
      EXPECT_EQ(shown.files.at(0).state, FileState::stored) << what;
    }
  }
}

// The CHECKs on files.state and messages.download_notice take exactly the
// enums' names: a name the enum has and the schema lacks would fail every
// write of it, and one the schema has and the enum lacks would stop reads.
TEST_F(CatalogTest, SchemaTakesEveryEnumNameAndRefusesOtherText) {
  ASSERT_TRUE(catalog_->record_offload(sample_offload(hasher_, new_token())).ok());
  auto db = Db::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
  ASSERT_TRUE(db.ok());
  auto set = [&](const char* column, std::string_view text) {
    const std::string table = column == std::string_view("state") ? "files" : "messages";
    const std::string sql = "UPDATE " + table + " SET " + column + " = '" + std::string(text) + "'";
    return db->exec(sql.c_str()).ok();
  };
  for (FileState s : kFileStates) EXPECT_TRUE(set("state", to_string(s))) << to_string(s);
  for (DownloadNotice d : kDownloadNotices)
    EXPECT_TRUE(set("download_notice", to_string(d))) << to_string(d);
  EXPECT_FALSE(set("state", "deleted"));
  EXPECT_FALSE(set("download_notice", "always"));
}

// Text no enum value names (written past the CHECKs, as a hand edit or
// another program might; messages.outcome has no CHECK) is refused where
// the catalog reads the row: the process stops rather than guess.
using CatalogDeathTest = CatalogTest;

TEST_F(CatalogDeathTest, TextNoValueNamesIsRefusedWhereTheRowIsRead) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto ids = catalog_->record_offload(sample_offload(hasher_, new_token()));
  ASSERT_TRUE(ids.ok());
  const std::int64_t id = ids->message_id;
  const std::string file = ids->file_public_ids.at(0);
  auto db = Db::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->exec("UPDATE messages SET outcome = 'kept'").ok());
  EXPECT_DEATH((void)catalog_->find_message(id), "messages.outcome \"kept\" is not");
  EXPECT_DEATH((void)catalog_->list_messages(10), "messages.outcome \"kept\" is not");
  ASSERT_TRUE(db->exec("UPDATE messages SET outcome = 'uploaded';"
                       "PRAGMA ignore_check_constraints = ON;"
                       "UPDATE messages SET download_notice = 'always'").ok());
  EXPECT_DEATH((void)catalog_->find_message(id), "messages.download_notice \"always\" is not");
  ASSERT_TRUE(db->exec("UPDATE messages SET download_notice = 'every';"
                       "UPDATE files SET state = 'deleted'").ok());
  ASSERT_EQ(catalog_->find_message(id).value()->download_notice, DownloadNotice::every);
  EXPECT_DEATH((void)catalog_->find_file(file), "files.state \"deleted\" is not");
  EXPECT_DEATH((void)catalog_->show_message(ids->message_public_id),
               "files.state \"deleted\" is not");
}

// PostgreSQL: a connection lost inside a transaction commits nothing of it,
// and no later statement of that transaction runs on a new connection by
// itself; after the ROLLBACK the next statement reconnects.
TEST_F(CatalogTest, APostgresConnectionLostMidTransactionCommitsNothingAndReconnectsAfter) {
  auto db = Db::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
  ASSERT_TRUE(db.ok()) << db.error().message;
  if (db->engine() != Engine::postgres) GTEST_SKIP() << "about the PostgreSQL driver";
  auto killer = Db::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
  ASSERT_TRUE(killer.ok());
  std::int64_t pid = 0;
  {
    Stmt st(*db, "SELECT pg_backend_pid()");
    ASSERT_TRUE(st.step().value());
    pid = st.int64(0);
  }
  const auto watch_rows = [&] {
    Stmt st(*killer, "SELECT count(*) FROM watch_position");
    EXPECT_TRUE(st.step().value());
    return st.int64(0);
  };
  {
    Transaction tx(*db);
    ASSERT_TRUE(tx.begin().ok());
    Stmt first(*db, "INSERT INTO watch_position (log_path, device, inode, \"offset\", updated_at)"
                    " VALUES ('/a', 1, 2, 3, 4)");
    ASSERT_TRUE(first.run().ok());
    Stmt kill(*killer, "SELECT pg_terminate_backend(CAST(?1 AS INTEGER))");
    ASSERT_TRUE(kill.bind(1, pid).step().ok());
    // pg_terminate_backend only signals: wait until the backend has gone.
    for (int i = 0;; ++i) {
      Stmt alive(*killer, "SELECT count(*) FROM pg_stat_activity WHERE pid = CAST(?1 AS INTEGER)");
      ASSERT_TRUE(alive.bind(1, pid).step().value());
      if (alive.int64(0) == 0) break;
      ASSERT_LT(i, 500) << "the backend did not go within 5 s";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Stmt lost(*db, "INSERT INTO watch_position (log_path, device, inode, \"offset\", updated_at)"
                   " VALUES ('/b', 1, 2, 3, 4)");
    EXPECT_FALSE(lost.run().ok()) << "a statement ran after its connection was killed";
    Stmt later(*db, "INSERT INTO watch_position (log_path, device, inode, \"offset\", updated_at)"
                    " VALUES ('/c', 1, 2, 3, 4)");
    auto s = later.run();
    ASSERT_FALSE(s.ok()) << "a statement of the lost transaction ran on a new connection";
    EXPECT_NE(s.error().message.find("middle of a transaction"), std::string::npos)
        << s.error().message;
    EXPECT_FALSE(tx.commit().ok());
  }  // ROLLBACK
  EXPECT_EQ(watch_rows(), 0) << "part of the lost transaction was committed";
  Stmt again(*db, "INSERT INTO watch_position (log_path, device, inode, \"offset\", updated_at)"
                  " VALUES ('/d', 1, 2, 3, 4)");
  EXPECT_TRUE(again.run().ok()) << "no reconnect after the rollback";
  EXPECT_EQ(watch_rows(), 1);
}

}  // namespace
}  // namespace attachgate::store
