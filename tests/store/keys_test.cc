// Tests store/keys.cc: the master key file and its mode.
#include "store/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/support/temp_dir.h"

namespace attachgate::store {
namespace {

TEST(KeyRing, CreatesKeyWithMode0600AndReloadsSameKeys) {
  testing::TempDir dir;
  auto first = KeyRing::load_or_create(dir.path());
  ASSERT_TRUE(first.ok()) << first.error().message;
  struct stat st {};
  ASSERT_EQ(::stat((dir / "master.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto second = KeyRing::load_or_create(dir.path());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->blob_wrap_key(), second->blob_wrap_key());
  EXPECT_EQ(first->token_hash_key(), second->token_hash_key());
  EXPECT_NE(first->blob_wrap_key(), first->token_hash_key());
}

TEST(KeyRing, RefusesKeyReadableByOthers) {
  testing::TempDir dir;
  ASSERT_TRUE(KeyRing::load_or_create(dir.path()).ok());
  ASSERT_EQ(::chmod((dir / "master.key").c_str(), 0644), 0);
  auto again = KeyRing::load_or_create(dir.path());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("mode 0644"), std::string::npos) << again.error().message;
  EXPECT_NE(again.error().message.find("chmod 600"), std::string::npos) << again.error().message;
}

TEST(KeyRing, RefusesDamagedKey) {
  testing::TempDir dir;
  {
    std::ofstream out(dir / "master.key");
    out << "short";
  }
  ASSERT_EQ(::chmod((dir / "master.key").c_str(), 0600), 0);
  auto ring = KeyRing::load_or_create(dir.path());
  ASSERT_FALSE(ring.ok());
  EXPECT_NE(ring.error().message.find("exactly 32 bytes"), std::string::npos);
}

}  // namespace
}  // namespace attachgate::store
