// Tests config/policy_snapshot.cc: a reload swaps the policy whole, or not at all.
//
// Policy files are written to a fresh temp dir per test; the race test is
// most telling under the sanitizer build (-DATTACHGATE_SANITIZE=ON).
#include "config/policy_snapshot.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace attachgate::config {
namespace {

constexpr const char* kOneRule = "[[rule]]\nname = \"everything\"\naction = \"offload\"\n";
constexpr const char* kTwoRules =
    "[[rule]]\nname = \"tagged\"\nsubject_tag = \"[secure]\"\naction = \"offload\"\n"
    "[[rule]]\nname = \"rest\"\naction = \"keep\"\n";

class PolicySnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "attachgate-snapshot-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/policy.toml";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void write(const std::string& toml) {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << toml;
  }

  std::string dir_, path_;
};

TEST_F(PolicySnapshotTest, GoodReloadSwapsAndOldReadersKeepTheirPolicy) {
  PolicySnapshot snapshot(std::make_shared<const Policy>(default_policy()));
  std::shared_ptr<const Policy> held = snapshot.get();
  ASSERT_EQ(held->rules.size(), 2u);

  write(kOneRule);
  Status s = snapshot.reload(path_);
  ASSERT_TRUE(s.ok()) << s.error().message;

  std::shared_ptr<const Policy> now = snapshot.get();
  ASSERT_EQ(now->rules.size(), 1u);
  EXPECT_EQ(now->rules[0].name, "everything");
  EXPECT_EQ(now->source, path_);
  // A message half processed under the old policy still sees all of it.
  EXPECT_EQ(held->rules.size(), 2u);
  EXPECT_EQ(held->rules[1].name, "large-to-external");
  EXPECT_EQ(held->source, "(embedded defaults)");
}

TEST_F(PolicySnapshotTest, BrokenReloadKeepsTheOldPolicyAndListsEveryProblem) {
  write(kOneRule);
  Loaded<Policy> first = load_policy(path_);
  ASSERT_TRUE(first.ok());
  PolicySnapshot snapshot(std::make_shared<const Policy>(*first.value));
  std::shared_ptr<const Policy> before = snapshot.get();

  write("[[rule]]\nname = \"x\"\naction = \"ofload\"\nmax_downloads = 0\n");
  Status s = snapshot.reload(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, path_ + ":3: action \"ofload\" is not one of keep, offload\n" +
                                   path_ + ":4: max_downloads must be between 1 and 1000, not 0");
  EXPECT_EQ(snapshot.get(), before);

  std::filesystem::remove(path_);
  s = snapshot.reload(path_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, path_ + ": cannot open: No such file or directory");
  EXPECT_EQ(snapshot.get(), before);
}

// Readers racing a reload see one whole policy or the other, never a mix.
// Most useful under the sanitizer build.
TEST_F(PolicySnapshotTest, ConcurrentReadersSeeWholePolicies) {
  write(kTwoRules);
  PolicySnapshot snapshot(std::make_shared<const Policy>(default_policy()));
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      while (!stop) {
        std::shared_ptr<const Policy> p = snapshot.get();
        bool whole = (p->rules.size() == 2 &&
                      (p->rules[0].name == "internal-only" || p->rules[0].name == "tagged")) ||
                     (p->rules.size() == 1 && p->rules[0].name == "everything");
        if (!whole) ++torn;
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    write(i % 2 ? kOneRule : kTwoRules);
    EXPECT_TRUE(snapshot.reload(path_).ok());
  }
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(torn, 0);
}

}  // namespace
}  // namespace attachgate::config
