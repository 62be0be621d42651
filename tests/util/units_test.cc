// Tests util/units.cc: durations and sizes from config text.
#include "util/units.h"

#include <gtest/gtest.h>

namespace attachgate {

TEST(Units, Durations) {
  EXPECT_EQ(parse_duration("90s").value(), 90);
  EXPECT_EQ(parse_duration("30m").value(), 1800);
  EXPECT_EQ(parse_duration("12h").value(), 43200);
  EXPECT_EQ(parse_duration(" 7d ").value(), 7 * 86400);
  EXPECT_EQ(parse_duration("2w").value(), 14 * 86400);
  for (const char* bad : {"", "d", "7", "7x", "-1d", "1.5d", "7 d", "99999999999999999999d"})
    EXPECT_FALSE(parse_duration(bad).ok()) << bad;
}

TEST(Units, Sizes) {
  EXPECT_EQ(parse_size("512").value(), 512u);
  EXPECT_EQ(parse_size("10KB").value(), 10000u);
  EXPECT_EQ(parse_size("5MB").value(), 5000000u);
  EXPECT_EQ(parse_size("1.5GB").value(), 1500000000u);
  EXPECT_EQ(parse_size("1 MiB").value(), 1048576u);
  EXPECT_EQ(parse_size("2kib").value(), 2048u);
  for (const char* bad : {"", "MB", "10XB", "1e9", "99999999999GB", "-5"})
    EXPECT_FALSE(parse_size(bad).ok()) << bad;
}

TEST(Units, Formatting) {
  EXPECT_EQ(format_size(999), "999 B");
  EXPECT_EQ(format_size(31'200'000), "31.2 MB");
  EXPECT_EQ(format_duration(7 * 86400), "7d");
  EXPECT_EQ(format_duration(90), "90s");
  EXPECT_EQ(format_date(1795910400), "2026-11-29");
  EXPECT_EQ(format_time(1795910400 + 3661), "2026-11-29 01:01:01");
  EXPECT_EQ(format_iso_time(1795910400 + 3661), "2026-11-29T01:01:01Z");
  EXPECT_EQ(format_iso_time(0), "1970-01-01T00:00:00Z");
}

}  // namespace attachgate
