// Tests store/catalog_roles.h and store/catalog_records.h: the SQLite
// Catalog is every role's catalog, each role's interface is abstract (a
// back end must implement all of it), and count()'s tables are exactly the
// schema's, each counted by its enum.
#include "store/catalog_roles.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <type_traits>

#include "store/catalog.h"
#include "store/catalog_records.h"
#include "tests/support/temp_dir.h"

namespace attachgate::store {
namespace {

template <class Role>
constexpr bool kIsRoleOfCatalog = std::is_abstract_v<Role> && std::is_base_of_v<Role, Catalog> &&
                                  std::is_convertible_v<Catalog&, Role&>;
static_assert(kIsRoleOfCatalog<MilterCatalog>);
static_assert(kIsRoleOfCatalog<WebCatalog>);
static_assert(kIsRoleOfCatalog<NotifyCatalog>);
static_assert(kIsRoleOfCatalog<WatchCatalog>);
static_assert(kIsRoleOfCatalog<AdminCatalog>);
static_assert(kIsRoleOfCatalog<CatalogReads>);
static_assert(kIsRoleOfCatalog<OffloadCatalog>);
static_assert(kIsRoleOfCatalog<LinkActions>);
// The roles that share a part share one copy of it: Catalog& converts to
// CatalogReads& without ambiguity (above) because the parts are virtual bases.
static_assert(std::is_base_of_v<CatalogReads, WebCatalog> &&
              std::is_base_of_v<CatalogReads, NotifyCatalog> &&
              std::is_base_of_v<CatalogReads, AdminCatalog>);
// The milter and the watcher see no reads, and the notifier no link actions.
static_assert(!std::is_base_of_v<CatalogReads, MilterCatalog>);
static_assert(!std::is_base_of_v<CatalogReads, WatchCatalog>);
static_assert(!std::is_base_of_v<LinkActions, NotifyCatalog>);

TEST(CatalogTablesTest, AreExactlyTheSchemasTables) {
  attachgate::testing::TempDir dir;
  auto catalog = Catalog::open(dir / "catalog.db");
  ASSERT_TRUE(catalog.ok()) << catalog.error().message;

  CatalogReads& reads = *catalog;  // as a component holds it
  std::set<std::string> named;
  for (CatalogTable table : kCatalogTables) {
    EXPECT_TRUE(named.insert(table_name(table)).second) << table_name(table) << " twice";
    auto rows = reads.count(table);
    ASSERT_TRUE(rows.ok()) << table_name(table) << ": " << rows.error().message;
    EXPECT_EQ(*rows, 0) << table_name(table) << " of a new catalog";
  }

  auto db = Db::open(dir / "catalog.db");
  ASSERT_TRUE(db.ok()) << db.error().message;
  Stmt st(*db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
  std::set<std::string> schema;
  while (st.step().value()) schema.insert(st.text(0));
  EXPECT_EQ(named, schema) << "CatalogTable and the schema (catalog_schema.h) disagree";
}

TEST(CatalogTablesTest, CountRowsOfTheNamedTable) {
  attachgate::testing::TempDir dir;
  auto catalog = Catalog::open(dir / "catalog.db");
  ASSERT_TRUE(catalog.ok()) << catalog.error().message;
  ASSERT_TRUE(catalog->adopt_key_check(std::string(32, 'k'), 1'790'000'000).ok());
  EXPECT_EQ(catalog->count(CatalogTable::key_check).value(), 1);
  EXPECT_EQ(catalog->count(CatalogTable::messages).value(), 0);
}

}  // namespace
}  // namespace attachgate::store
