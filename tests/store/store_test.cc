// Tests store/store.cc: opening a state directory keeps the catalog private.
#include "store/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace attachgate::store {
namespace {

unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(Store, CatalogAndItsWalAreOwnerOnlyWhateverTheUmask) {
  attachgate::testing::TempDir dir;
  const mode_t old = ::umask(022);
  auto store = Store::open(dir.path());
  ::umask(old);
  ASSERT_TRUE(store.ok()) << store.error().message;
  ASSERT_TRUE((*store)->catalog.list_messages(1).ok());  // touches the WAL
  EXPECT_EQ(mode_of(dir / "catalog.db"), 0600u);
  EXPECT_EQ(mode_of(dir / "catalog.db-wal"), 0600u);
  EXPECT_EQ(mode_of(dir / "catalog.db-shm"), 0600u);
}

TEST(Store, AWidenedCatalogIsMadePrivateAgain) {
  attachgate::testing::TempDir dir;
  { ASSERT_TRUE(Store::open(dir.path()).ok()); }
  ASSERT_EQ(::chmod((dir / "catalog.db").c_str(), 0644), 0);
  auto store = Store::open(dir.path());
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ(mode_of(dir / "catalog.db"), 0600u);
}

}  // namespace
}  // namespace attachgate::store
