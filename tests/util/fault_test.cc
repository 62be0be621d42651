// tests/util/fault_test.cc - the crash points of util/fault.h.
#include "util/fault.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

namespace attachgate {
namespace {

// Each case runs in a death-test child, so the variable is read afresh there.
void pass_times(const char* spec, const char* point, int times) {
  ::setenv("ATTACHGATE_FAULT_KILL_AT", spec, 1);
  for (int i = 0; i < times; ++i) fault_point(point);
  std::exit(0);
}

TEST(FaultPoint, KillsAtTheNthPassOfTheNamedPoint) {
  EXPECT_EXIT(pass_times("blob_write:3", "blob_write", 3), testing::KilledBySignal(SIGKILL), "");
  EXPECT_EXIT(pass_times("blob_write:3", "blob_write", 2), testing::ExitedWithCode(0), "");
}

TEST(FaultPoint, OtherPointsAndBadSpecsDoNothing) {
  EXPECT_EXIT(pass_times("blob_write:1", "spool_append", 5), testing::ExitedWithCode(0), "");
  EXPECT_EXIT(pass_times("blob_write:0", "blob_write", 5), testing::ExitedWithCode(0), "");
  EXPECT_EXIT(pass_times("blob_write:x", "blob_write", 5), testing::ExitedWithCode(0), "");
  EXPECT_EXIT(pass_times(":2", "", 5), testing::ExitedWithCode(0), "");
  EXPECT_EXIT(pass_times("blob_write", "blob_write", 5), testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace attachgate
