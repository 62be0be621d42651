// Tests watch/log_follower.cc: every line handed out exactly once across a
// rename rotation, a copytruncate, a restart from a saved position (also
// with a rotation while stopped), a partial last line, and over-long lines.
#include "watch/log_follower.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace attachgate::watch {
namespace {

using Lines = std::vector<std::string>;

void append(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::app) << text;
}

Lines poll_lines(LogFollower& f) {
  auto batch = f.poll();
  EXPECT_TRUE(batch.ok()) << (batch.ok() ? "" : batch.error().message);
  return batch.ok() ? batch->lines : Lines{};
}

// Polls until nothing more comes, collecting every line.
Lines drain(LogFollower& f) {
  Lines all;
  for (int i = 0; i < 100; ++i) {
    auto batch = f.poll();
    EXPECT_TRUE(batch.ok());
    if (!batch.ok()) break;
    all.insert(all.end(), batch->lines.begin(), batch->lines.end());
    if (batch->lines.empty() && !batch->more) break;
  }
  return all;
}

class LogFollowerTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::string log_ = dir_ / "maillog";
};

TEST_F(LogFollowerTest, WaitsForTheFileThenReadsWholeLines) {
  LogFollower f(log_);
  EXPECT_EQ(poll_lines(f), Lines{});
  append(log_, "one\ntwo\n");
  EXPECT_EQ(poll_lines(f), (Lines{"one", "two"}));
  EXPECT_EQ(poll_lines(f), Lines{});
  EXPECT_EQ(f.position().offset, 8);
}

TEST_F(LogFollowerTest, PartialLineWaitsForItsNewline) {
  LogFollower f(log_);
  append(log_, "first\nsec");
  EXPECT_EQ(poll_lines(f), Lines{"first"});
  EXPECT_EQ(f.position().offset, 6);  // not past the unfinished line
  append(log_, "ond half");
  EXPECT_EQ(poll_lines(f), Lines{});
  EXPECT_EQ(f.position().offset, 6);
  append(log_, "\nthird\n");
  EXPECT_EQ(poll_lines(f), (Lines{"second half", "third"}));
  EXPECT_EQ(f.position().offset, 24);
}

TEST_F(LogFollowerTest, RenameRotationReadsTheOldRestThenTheNewFile) {
  LogFollower f(log_);
  append(log_, "a1\na2\n");
  EXPECT_EQ(poll_lines(f), (Lines{"a1", "a2"}));
  const auto before = f.position();
  // The writer still appends to the renamed file before it reopens.
  ASSERT_EQ(std::rename(log_.c_str(), (log_ + ".20261123").c_str()), 0);
  append(log_ + ".20261123", "a3\n");
  EXPECT_EQ(poll_lines(f), Lines{"a3"});  // no new file yet: keep reading the old
  append(log_ + ".20261123", "a4\n");
  append(log_, "b1\nb2\n");
  EXPECT_EQ(drain(f), (Lines{"a4", "b1", "b2"}));
  EXPECT_NE(f.position().inode, before.inode);
  EXPECT_EQ(f.position().offset, 6);
  append(log_, "b3\n");
  EXPECT_EQ(drain(f), Lines{"b3"});
}

TEST_F(LogFollowerTest, CopytruncateStartsAgainFromTheTop) {
  LogFollower f(log_);
  append(log_, "line one\nline two\n");
  EXPECT_EQ(poll_lines(f), (Lines{"line one", "line two"}));
  ASSERT_EQ(::truncate(log_.c_str(), 0), 0);
  append(log_, "new\n");
  EXPECT_EQ(drain(f), Lines{"new"});
  EXPECT_EQ(f.position().offset, 4);
}

TEST_F(LogFollowerTest, RestartFromSavedPositionRepeatsAndMissesNothing) {
  append(log_, "1\n2\n3");
  store::WatchPosition saved;
  {
    LogFollower f(log_);
    EXPECT_EQ(poll_lines(f), (Lines{"1", "2"}));
    saved = f.position();
  }
  append(log_, "\n4\n");  // written while no follower ran
  LogFollower again(log_, saved);
  EXPECT_EQ(drain(again), (Lines{"3", "4"}));
}

TEST_F(LogFollowerTest, RestartAfterARotationWhileStoppedFinishesTheOldFile) {
  append(log_, "1\n2\n");
  store::WatchPosition saved;
  {
    LogFollower f(log_);
    EXPECT_EQ(poll_lines(f), (Lines{"1", "2"}));
    saved = f.position();
  }
  append(log_, "3\n");
  ASSERT_EQ(std::rename(log_.c_str(), (log_ + ".1").c_str()), 0);
  append(log_, "4\n");
  LogFollower again(log_, saved);
  EXPECT_EQ(drain(again), (Lines{"3", "4"}));
}

TEST_F(LogFollowerTest, RestartWhenTheOldFileIsGoneReadsTheNewOneWhole) {
  append(log_, "1\n2\n");
  store::WatchPosition saved;
  {
    LogFollower f(log_);
    EXPECT_EQ(poll_lines(f), (Lines{"1", "2"}));
    saved = f.position();
  }
  // Rotated and compressed while stopped: the renamed file is gone. (It is
  // removed after the new one exists, as logrotate does, so the new file
  // cannot have been given the old inode number.)
  append(log_, "3\n");
  ASSERT_EQ(std::rename(log_.c_str(), (log_ + ".1").c_str()), 0);
  append(log_, "new 1\n");
  ASSERT_EQ(std::remove((log_ + ".1").c_str()), 0);
  LogFollower again(log_, saved);
  auto batch = again.poll();
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->lines, Lines{"new 1"});
  ASSERT_EQ(batch->notes.size(), 1u);
  EXPECT_NE(batch->notes[0].find("missed"), std::string::npos);
}

TEST_F(LogFollowerTest, OverlongLinesAreSkippedWhole) {
  LogFollower f(log_, std::nullopt, FollowerLimits{100, 1 << 20});
  append(log_, "short\n" + std::string(150, 'x'));
  EXPECT_EQ(poll_lines(f), Lines{"short"});
  EXPECT_EQ(f.position().offset, 6);  // a restart would skip the long line again
  append(log_, std::string(200000, 'y') + "\nafter\n" + std::string(100, 'z') + "\n");
  auto batch = f.poll();
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->lines, (Lines{"after", std::string(100, 'z')}));
  EXPECT_EQ(batch->notes.size(), 1u);
}

TEST_F(LogFollowerTest, BatchesAreBounded) {
  LogFollower f(log_, std::nullopt, FollowerLimits{1000, 64 * 1024});
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + "\n";
  append(log_, text);
  auto batch = f.poll();
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->more);
  EXPECT_LT(batch->lines.size(), 20000u);
  Lines all = batch->lines;
  Lines rest = drain(f);
  all.insert(all.end(), rest.begin(), rest.end());
  ASSERT_EQ(all.size(), 20000u);
  EXPECT_EQ(all.back(), "line 19999");
}

}  // namespace
}  // namespace attachgate::watch
