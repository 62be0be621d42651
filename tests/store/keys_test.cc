// Tests store/keys.cc: the master key file and its mode.
#include "store/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

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

// `attachgate run` starts its roles together on a fresh state directory, and
// each creates the master key if it is missing. All must end with one key.
TEST(KeyRing, StartersRacingOnAFreshDirectoryAllGetTheSameKey) {
  constexpr int kRounds = 20, kStarters = 8;
  for (int round = 0; round < kRounds; ++round) {
    testing::TempDir dir;
    std::atomic<int> waiting{kStarters};
    std::vector<Result<KeyRing>> rings(kStarters, make_error("not run"));
    std::vector<std::thread> starters;
    for (int i = 0; i < kStarters; ++i)
      starters.emplace_back([&, i] {
        waiting.fetch_sub(1);
        while (waiting.load() > 0) std::this_thread::yield();
        rings[i] = KeyRing::load_or_create(dir.path());
      });
    for (auto& t : starters) t.join();
    for (int i = 0; i < kStarters; ++i) {
      ASSERT_TRUE(rings[i].ok()) << "round " << round << ": " << rings[i].error().message;
      EXPECT_EQ(rings[i]->token_hash_key(), rings[0]->token_hash_key()) << "round " << round;
    }
    int entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++entries;
    EXPECT_EQ(entries, 1) << "round " << round << ": temporary files left behind";
  }
}

TEST(KeyRing, RefusesKeyReadableByOthers) {
  testing::TempDir dir;
  ASSERT_TRUE(KeyRing::load_or_create(dir.path()).ok());
  ASSERT_EQ(::chmod((dir / "master.key").c_str(), 0644), 0);
  auto again = KeyRing::load_or_create(dir.path());
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("mode 0644"), std::string::npos) << again.error().message;
  EXPECT_NE(again.error().message.find("chmod 0600"), std::string::npos) << again.error().message;
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

TEST(LocateMasterKey, DefaultFileCredentialAndTheirErrors) {
  auto def = locate_master_key("", "/srv/state", nullptr);
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->path, "/srv/state/master.key");
  EXPECT_TRUE(def->may_create);
  auto file = locate_master_key("/etc/attachgate/master.key", "/srv/state", "/run/creds");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->path, "/etc/attachgate/master.key");
  EXPECT_FALSE(file->may_create);
  auto cred = locate_master_key("credential:ag.key", "/srv/state", "/run/credentials/ag.service");
  ASSERT_TRUE(cred.ok());
  EXPECT_EQ(cred->path, "/run/credentials/ag.service/ag.key");
  EXPECT_FALSE(cred->may_create);
  EXPECT_FALSE(locate_master_key("credential:ag.key", "/srv/state", nullptr).ok());
  EXPECT_FALSE(locate_master_key("credential:ag.key", "/srv/state", "").ok());
  for (const char* bad : {"credential:", "credential:../x", "credential:a/b", "credential:.."})
    EXPECT_FALSE(locate_master_key(bad, "/srv/state", "/run/creds").ok()) << bad;
}

TEST(KeyRing, OutboxKeyAndCheckValueAreDerivedApart) {
  testing::TempDir dir;
  auto ring = KeyRing::load_or_create(dir.path());
  ASSERT_TRUE(ring.ok());
  EXPECT_NE(ring->outbox_seal_key(), ring->blob_wrap_key());
  EXPECT_NE(ring->outbox_seal_key(), ring->token_hash_key());
  EXPECT_EQ(ring->check_value().size(), 32u);
  EXPECT_EQ(KeyRing::load_or_create(dir.path())->check_value(), ring->check_value());
}

}  // namespace
}  // namespace attachgate::store
