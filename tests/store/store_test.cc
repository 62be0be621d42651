// Tests store/store.cc: opening a state directory keeps the catalog private,
// finds the master key where master_key_file says, records its check value
// once and refuses a key that is not the catalog's.
#include "store/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

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
  auto store = Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path()));
  ::umask(old);
  ASSERT_TRUE(store.ok()) << store.error().message;
  ASSERT_TRUE((*store)->catalog.list_messages(1).ok());  // touches the WAL
  EXPECT_EQ(mode_of(dir / "catalog.db"), 0600u);
  EXPECT_EQ(mode_of(dir / "catalog.db-wal"), 0600u);
  EXPECT_EQ(mode_of(dir / "catalog.db-shm"), 0600u);
}

TEST(Store, AWidenedCatalogIsMadePrivateAgain) {
  attachgate::testing::TempDir dir;
  { ASSERT_TRUE(Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path())).ok()); }
  ASSERT_EQ(::chmod((dir / "catalog.db").c_str(), 0644), 0);
  auto store = Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path()));
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ(mode_of(dir / "catalog.db"), 0600u);
}

void write_key(const std::string& path, char fill) {
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(32, fill);
  }
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
}

std::string recorded_check(Store& store) {
  auto check = store.catalog.key_check();
  EXPECT_TRUE(check.ok() && check->has_value());
  return check.ok() && check->has_value() ? **check : "";
}

TEST(Store, TheKeyCheckValueIsWrittenOnceAndIsNotTheKey) {
  attachgate::testing::TempDir dir;
  std::string first;
  {
    auto store = Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path()));
    ASSERT_TRUE(store.ok()) << store.error().message;
    first = recorded_check(**store);
    EXPECT_EQ(first, (*store)->keys.check_value());
    EXPECT_EQ(first.size(), 32u);
  }
  std::ifstream in(dir / "master.key", std::ios::binary);
  const std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(first, key);
  auto again = Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path()));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(recorded_check(**again), first);
  EXPECT_EQ((*again)->catalog.count(store::CatalogTable::key_check).value(), 1);
}

TEST(Store, AKeyThatIsNotTheCatalogsIsRefusedWithWhatToDo) {
  attachgate::testing::TempDir dir;
  { ASSERT_TRUE(Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path())).ok()); }
  const std::string other = dir / "other.key";
  write_key(other, 'x');
  auto store = Store::open(dir.path(), other, attachgate::testing::catalog_for_state(dir.path()));
  ASSERT_FALSE(store.ok());
  const std::string& why = store.error().message;
  EXPECT_NE(why.find(other + ": this master key is not the one"), std::string::npos) << why;
  EXPECT_NE(why.find("master_key_file"), std::string::npos) << why;
  EXPECT_TRUE(Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path())).ok()) << "the right key still opens it";
}

TEST(Store, AMissingKeyIsNotReplacedForACatalogThatHadOne) {
  attachgate::testing::TempDir dir;
  { ASSERT_TRUE(Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path())).ok()); }
  ASSERT_EQ(::unlink((dir / "master.key").c_str()), 0);
  auto store = Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path()));
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().message.find("no master key there"), std::string::npos)
      << store.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir / "master.key")) << "no new key made";
}

TEST(Store, AKeyFileElsewhereIsUsedAndNeverCreated) {
  attachgate::testing::TempDir dir;
  const std::string key = dir / "master.key.elsewhere";
  auto missing = Store::open(dir / "state", key, attachgate::testing::catalog_for_state(dir / "state"));
  ASSERT_FALSE(missing.ok());
  EXPECT_FALSE(std::filesystem::exists(key));
  write_key(key, 'k');
  auto store = Store::open(dir / "state", key, attachgate::testing::catalog_for_state(dir / "state"));
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_FALSE(std::filesystem::exists(dir / "state/master.key")) << "nothing beside the blobs";
  EXPECT_EQ((*store)->keys.check_value(), KeyRing::load({key, false}).value().check_value());
}

// A catalog from before key check values: its first start records one,
// but only for a key that opens the files it already holds.
TEST(Store, ACatalogWithoutACheckValueAdoptsOnlyAKeyThatOpensItsFiles) {
  attachgate::testing::TempDir dir;
  {
    auto store = Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path()));
    ASSERT_TRUE(store.ok()) << store.error().message;
    auto writer = (*store)->blobs.create();
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE(writer->write("bytes", 5).ok());
    auto blob = writer->commit();
    ASSERT_TRUE(blob.ok());
    Offload o;
    o.now = 1'790'000'000;
    o.files.push_back({"a.pdf", "application/pdf", *blob});
    ASSERT_TRUE((*store)->catalog.record_offload(o).ok());
  }
  auto forget_check = [&] {
    auto db = Db::open(attachgate::testing::catalog_at(dir / "catalog.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->exec("DELETE FROM key_check").ok());
  };
  forget_check();
  const std::string other = dir / "other.key";
  write_key(other, 'x');
  auto wrong = Store::open(dir.path(), other, attachgate::testing::catalog_for_state(dir.path()));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find(other + ": this master key does not open the files"),
            std::string::npos)
      << wrong.error().message;
  {
    auto db = Db::open(attachgate::testing::catalog_at(dir / "catalog.db"));
    ASSERT_TRUE(db.ok());
    Stmt st(*db, "SELECT count(*) FROM key_check");
    ASSERT_TRUE(st.step().value());
    EXPECT_EQ(st.int64(0), 0) << "the wrong key's check value was recorded";
  }
  auto right = Store::open(dir.path(), "", attachgate::testing::catalog_for_state(dir.path()));
  ASSERT_TRUE(right.ok()) << right.error().message;
  EXPECT_EQ(recorded_check(**right), (*right)->keys.check_value());
}

// systemd's LoadCredential= puts the key in $CREDENTIALS_DIRECTORY.
TEST(Store, ACredentialIsReadFromTheCredentialsDirectory) {
  attachgate::testing::TempDir dir;
  ASSERT_EQ(::mkdir((dir / "creds").c_str(), 0700), 0);
  write_key(dir / "creds/master.key", 'c');
  ::unsetenv("CREDENTIALS_DIRECTORY");
  auto unset = Store::open(dir / "state", "credential:master.key", attachgate::testing::catalog_for_state(dir / "state"));
  ASSERT_FALSE(unset.ok());
  EXPECT_NE(unset.error().message.find("LoadCredential=master.key:"), std::string::npos)
      << unset.error().message;
  ASSERT_EQ(::setenv("CREDENTIALS_DIRECTORY", (dir / "creds").c_str(), 1), 0);
  auto store = Store::open(dir / "state", "credential:master.key", attachgate::testing::catalog_for_state(dir / "state"));
  ::unsetenv("CREDENTIALS_DIRECTORY");
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ((*store)->keys.check_value(),
            KeyRing::load({dir / "creds/master.key", false}).value().check_value());
  EXPECT_FALSE(std::filesystem::exists(dir / "state/master.key"));
}

}  // namespace
}  // namespace attachgate::store
