// Tests milter/spool.cc: memory up to the threshold, then an anonymous file.
#include "milter/spool.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace attachgate::milter {
namespace {

std::string read_all(const Spool& s) {
  std::string out;
  EXPECT_TRUE(s.for_each_chunk(333, [&](std::string_view c) -> Status {
    out.append(c);
    return {};
  }).ok());
  return out;
}

TEST(Spool, StaysInMemoryUpToTheThreshold) {
  attachgate::testing::TempDir dir;
  Spool s(dir / "spool", 1000);
  ASSERT_TRUE(s.append(std::string(1000, 'a')).ok());
  EXPECT_TRUE(s.in_memory());
  EXPECT_EQ(read_all(s), std::string(1000, 'a'));
}

TEST(Spool, SpillsToAnAnonymousFile) {
  attachgate::testing::TempDir dir;
  Spool s(dir / "spool", 1000);
  std::string expected;
  for (int i = 0; i < 50; ++i) {
    std::string piece(97, static_cast<char>('a' + i % 26));
    expected += piece;
    ASSERT_TRUE(s.append(piece).ok());
  }
  EXPECT_FALSE(s.in_memory());
  EXPECT_EQ(s.size(), expected.size());
  EXPECT_EQ(read_all(s), expected);
  EXPECT_EQ(read_all(s), expected) << "a second read starts from the beginning again";
  EXPECT_TRUE(std::filesystem::is_empty(dir / "spool")) << "the spool file has a name";
  s.clear();
  EXPECT_EQ(s.size(), 0u);
}

TEST(Spool, UnwritableDirectoryIsAnError) {
  attachgate::testing::TempDir dir;
  std::ofstream(dir / "file") << "x";
  Spool s(dir / "file/spool", 10);
  EXPECT_FALSE(s.append(std::string(100, 'a')).ok());
}

}  // namespace
}  // namespace attachgate::milter
