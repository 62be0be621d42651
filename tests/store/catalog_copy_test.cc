// Tests store/catalog_copy.cc and catalog_columns.cc: every row copied
// with its id, a stopped copy resumed without duplicates, a destination
// with other data or another key refused, and ids after the copy's.
// SQLite to SQLite by default; both ends on PostgreSQL when
// ATTACHGATE_TEST_POSTGRES is set (test_catalog.h).
#include "store/catalog_copy.h"

#include <gtest/gtest.h>

#include "tests/store/migrate_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::store {
namespace {

using testing_migrate::dump_table;
using testing_migrate::kNow;
using testing_migrate::seed_catalog;

class MigrateCatalogCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto source = Catalog::open(source_url());
    ASSERT_TRUE(source.ok()) << source.error().message;
    source_.emplace(std::move(*source));
    auto destination = Catalog::open(destination_url());
    ASSERT_TRUE(destination.ok()) << destination.error().message;
    destination_.emplace(std::move(*destination));
  }
  std::string source_url() { return attachgate::testing::catalog_at(dir_ / "source.db"); }
  std::string destination_url() { return attachgate::testing::catalog_at(dir_ / "destination.db"); }
  Db open_db(const std::string& url) {
    auto db = Db::open(url);
    if (!db) panic(db.error().message.c_str());
    return std::move(*db);
  }
  // Copies every table as migrate_store does; the first error, if any.
  Status copy_all(Db& from, Db& to, int batch_rows, std::vector<TableCopyReport>* reports = nullptr) {
    CatalogCopier copier(from, to, batch_rows);
    if (auto s = copier.check_destination(); !s) return s;
    for (CatalogTable table : kCopyOrder) {
      auto r = copier.copy_table(table);
      if (!r) return r.error();
      if (reports) reports->push_back(*r);
    }
    return copier.finish();
  }
  void expect_same_rows(const Db& a, const Db& b) {
    for (CatalogTable table : kCatalogTables) {
      auto rows = dump_table(a, table);
      EXPECT_FALSE(rows.empty()) << table_name(table) << ": the fixture leaves no table empty";
      EXPECT_EQ(rows, dump_table(b, table)) << table_name(table);
    }
  }

  attachgate::testing::TempDir dir_;
  std::optional<Catalog> source_, destination_;
};

TEST(MigrateColumnsTest, ListsEveryColumnOfTheSchemaInOrderWithItsType) {
  attachgate::testing::TempDir dir;
  const std::string url = attachgate::testing::catalog_at(dir / "catalog.db");
  ASSERT_TRUE(Catalog::open(url).ok());
  auto db = Db::open(url);
  ASSERT_TRUE(db.ok());
  const bool pg = db->engine() == Engine::postgres;
  for (CatalogTable table : kCatalogTables) {
    std::vector<std::string> schema, listed;
    const std::string sql =
        pg ? std::string("SELECT column_name, data_type FROM information_schema.columns WHERE "
                         "table_schema = current_schema() AND table_name = '") +
                 table_name(table) + "' ORDER BY ordinal_position"
           : std::string("SELECT name, type FROM pragma_table_info('") + table_name(table) + "')";
    Stmt st(*db, sql.c_str());
    while (st.step().value()) schema.push_back(st.text(0) + " " + st.text(1));
    for (const Column& c : columns_of(table).columns) {
      const char* type = c.type == ColumnType::integer ? (pg ? "bigint" : "INTEGER")
                         : c.type == ColumnType::text  ? (pg ? "text" : "TEXT")
                                                       : (pg ? "bytea" : "BLOB");
      listed.push_back(std::string(c.name) + " " + type);
    }
    EXPECT_EQ(listed, schema) << table_name(table);
  }
  // Every table is copied, once.
  EXPECT_EQ(std::size(kCopyOrder), std::size(kCatalogTables));
}

TEST_F(MigrateCatalogCopyTest, CopiesEveryRowWithItsIdAndNewIdsComeAfter) {
  seed_catalog(*source_, 5);
  Db from = open_db(source_url()), to = open_db(destination_url());
  std::vector<TableCopyReport> reports;
  ASSERT_TRUE(copy_all(from, to, 4, &reports).ok());
  for (const TableCopyReport& r : reports) {
    EXPECT_EQ(r.copied, r.source_rows) << table_name(r.table);
    EXPECT_EQ(r.already, 0) << table_name(r.table);
  }
  expect_same_rows(from, to);

  // The copy is a catalog attachgate reads, and writes after: its
  // sequences are past the copied ids.
  auto message = destination_->show_message("Q1003");
  ASSERT_TRUE(message.ok() && *message);
  EXPECT_EQ((*message)->message.subject, "Report \xc3\xa9 3");
  EXPECT_EQ(destination_->key_check().value(), std::optional<std::string>(std::string(32, '\x5a')));
  const std::int64_t last_message = source_->count(CatalogTable::messages).value();
  seed_catalog(*destination_, 1, {std::string(32, 'f')});
  EXPECT_EQ(destination_->count(CatalogTable::messages).value(), last_message + 1);
  Stmt max_id(to, "SELECT max(id) FROM messages");
  ASSERT_TRUE(max_id.step().value());
  EXPECT_EQ(max_id.int64(0), last_message + 1);

  // A second run finds everything there and copies nothing.
  ASSERT_TRUE(Catalog::open(attachgate::testing::catalog_at(dir_ / "again.db")).ok());
  Db from2 = open_db(source_url()), fresh = open_db(attachgate::testing::catalog_at(dir_ / "again.db"));
  ASSERT_TRUE(copy_all(from2, fresh, 100).ok());
  std::vector<TableCopyReport> again;
  ASSERT_TRUE(copy_all(from2, fresh, 100, &again).ok());
  for (const TableCopyReport& r : again) {
    EXPECT_EQ(r.copied, 0) << table_name(r.table);
    EXPECT_EQ(r.already, r.source_rows) << table_name(r.table);
  }
}

TEST_F(MigrateCatalogCopyTest, AStoppedCopyResumesWithoutDuplicates) {
  seed_catalog(*source_, 6);
  Db from = open_db(source_url()), to = open_db(destination_url());
  // The destination fails in the middle of the events: batches of 3 before
  // it committed, the batch it failed in rolled back, nothing after it.
  ASSERT_TRUE(attachgate::testing::fail_inserts(to, "events", "stopped", "NEW.id > 7").ok());
  Status stopped = copy_all(from, to, 3);
  ASSERT_FALSE(stopped.ok());
  EXPECT_NE(stopped.error().message.find("stopped"), std::string::npos) << stopped.error().message;
  EXPECT_EQ(destination_->count(CatalogTable::events).value(), 6);
  EXPECT_EQ(destination_->count(CatalogTable::outbox).value(), 0);
  ASSERT_TRUE(to.exec(to.engine() == Engine::postgres ? "DROP TRIGGER fail_events ON events"
                                                      : "DROP TRIGGER fail_events")
                  .ok());

  std::vector<TableCopyReport> reports;
  Status resumed = copy_all(from, to, 3, &reports);
  ASSERT_TRUE(resumed.ok()) << resumed.error().message;
  for (const TableCopyReport& r : reports) {
    EXPECT_EQ(r.already + r.copied, r.source_rows) << table_name(r.table);
    if (r.table == CatalogTable::messages) {
      EXPECT_EQ(r.copied, 0);
    }
    if (r.table == CatalogTable::events) {
      EXPECT_EQ(r.already, 6);
    }
  }
  expect_same_rows(from, to);
}

TEST_F(MigrateCatalogCopyTest, RefusesADestinationHoldingOtherData) {
  seed_catalog(*source_, 2);
  // Another installation's catalog: its own message 1, no key check value.
  Offload other;
  other.now = kNow;
  other.message = {"OTHER", "eve@example.org", "theirs", "", "", {"x@example.net"},
                   MessageOutcome::offloaded};
  ASSERT_TRUE(destination_->record_offload(other).ok());
  Db from = open_db(source_url()), to = open_db(destination_url());
  Status s = copy_all(from, to, 10);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("not this installation's (messages row id 1"),
            std::string::npos) << s.error().message;
  EXPECT_NE(s.error().message.find("empty database"), std::string::npos);
  EXPECT_EQ(destination_->count(CatalogTable::messages).value(), 1);  // untouched
}

TEST_F(MigrateCatalogCopyTest, RefusesADestinationOfAnotherMasterKey) {
  seed_catalog(*source_, 1);
  ASSERT_TRUE(destination_->adopt_key_check(std::string(32, '\x11'), kNow).ok());
  Db from = open_db(source_url()), to = open_db(destination_url());
  Status s = copy_all(from, to, 10);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("master key check value that is not this installation's"),
            std::string::npos) << s.error().message;
  EXPECT_EQ(destination_->count(CatalogTable::messages).value(), 0);
}

TEST_F(MigrateCatalogCopyTest, NewEventIdsComeAfterEveryIdTheSourceGaveOut) {
  seed_catalog(*source_, 2);
  // Events forgotten by purge leave the webhook cursor past the last id left.
  Db from = open_db(source_url());
  ASSERT_TRUE(from.exec("UPDATE webhook_cursor SET last_event_id = 500").ok());
  Db to = open_db(destination_url());
  ASSERT_TRUE(copy_all(from, to, 10).ok());
  EventRecord e;
  e.kind = EventKind::viewed;
  e.at = kNow;
  auto id = destination_->add_event(e);
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(*id, 501);
}

}  // namespace
}  // namespace attachgate::store
