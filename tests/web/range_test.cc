// Tests web/range.cc: the Range header for resumed downloads.
#include "web/range.h"

#include <gtest/gtest.h>

#include <limits>
#include <ostream>
#include <string>

namespace attachgate::web {

static std::ostream& operator<<(std::ostream& os, RangeKind kind) {
  switch (kind) {
    case RangeKind::none: return os << "none";
    case RangeKind::satisfiable: return os << "satisfiable";
    case RangeKind::unsatisfiable: return os << "unsatisfiable";
    case RangeKind::ignored: return os << "ignored";
  }
  return os << "?";
}

namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

struct Case {
  std::string header;
  std::uint64_t size;
  RangeKind kind;
  std::uint64_t first = 0, last = 0;  // checked only when satisfiable
};

void check(const Case& c) {
  RangeRequest r = parse_range(c.header, c.size);
  EXPECT_EQ(r.kind, c.kind) << "'" << c.header << "' size " << c.size;
  if (c.kind == RangeKind::satisfiable && r.kind == c.kind) {
    EXPECT_EQ(r.range.first, c.first) << "'" << c.header << "' size " << c.size;
    EXPECT_EQ(r.range.last, c.last) << "'" << c.header << "' size " << c.size;
    EXPECT_LE(r.range.first, r.range.last);
    EXPECT_LT(r.range.last, c.size);
  }
}

TEST(Range, NoHeader) {
  check({"", 1000, RangeKind::none});
  check({"  ", 1000, RangeKind::none});
  check({"", 0, RangeKind::none});
}

TEST(Range, SatisfiableSingleRanges) {
  const Case cases[] = {
      {"bytes=0-99", 1000, RangeKind::satisfiable, 0, 99},
      {"bytes=100-199", 1000, RangeKind::satisfiable, 100, 199},
      {"bytes=0-0", 1000, RangeKind::satisfiable, 0, 0},
      {"bytes=999-999", 1000, RangeKind::satisfiable, 999, 999},
      {"bytes=500-", 1000, RangeKind::satisfiable, 500, 999},
      {"bytes=0-", 1000, RangeKind::satisfiable, 0, 999},
      {"bytes=0-", 1, RangeKind::satisfiable, 0, 0},
      {"bytes=900-5000", 1000, RangeKind::satisfiable, 900, 999},  // last clamped
      {"bytes=0-18446744073709551615", 1000, RangeKind::satisfiable, 0, 999},
      {"bytes=-100", 1000, RangeKind::satisfiable, 900, 999},
      {"bytes=-1", 1000, RangeKind::satisfiable, 999, 999},
      {"bytes=-1000", 1000, RangeKind::satisfiable, 0, 999},
      {"bytes=-5000", 1000, RangeKind::satisfiable, 0, 999},  // longer suffix: all of it
      {"bytes=-18446744073709551615", 1000, RangeKind::satisfiable, 0, 999},
      {"bytes=0007-0009", 1000, RangeKind::satisfiable, 7, 9},
      {"Bytes=0-99", 1000, RangeKind::satisfiable, 0, 99},  // units are case-insensitive
      {"BYTES=0-99", 1000, RangeKind::satisfiable, 0, 99},
      // OWS and empty list elements, as RFC 9110 §5.6.1 asks recipients to accept.
      {" bytes=0-99 ", 1000, RangeKind::satisfiable, 0, 99},
      {"bytes= 0-99", 1000, RangeKind::satisfiable, 0, 99},
      {"bytes=0-99,", 1000, RangeKind::satisfiable, 0, 99},
      {"bytes=, 0-99 ,\t,", 1000, RangeKind::satisfiable, 0, 99},
      {"bytes=10-\t", 1000, RangeKind::satisfiable, 10, 999},
      // Big files: no 32-bit truncation anywhere.
      {"bytes=5000000000-", 6000000000, RangeKind::satisfiable, 5000000000, 5999999999},
      {"bytes=-1", kMax, RangeKind::satisfiable, kMax - 1, kMax - 1},
      {"bytes=0-", kMax, RangeKind::satisfiable, 0, kMax - 1},
  };
  for (const Case& c : cases) check(c);
}

TEST(Range, Unsatisfiable) {
  const Case cases[] = {
      {"bytes=1000-", 1000, RangeKind::unsatisfiable},
      {"bytes=1000-1999", 1000, RangeKind::unsatisfiable},
      {"bytes=5000-6000", 1000, RangeKind::unsatisfiable},
      {"bytes=18446744073709551615-", 1000, RangeKind::unsatisfiable},
      {"bytes=-0", 1000, RangeKind::unsatisfiable},
      {"bytes=0-", 0, RangeKind::unsatisfiable},
      {"bytes=0-0", 0, RangeKind::unsatisfiable},
      {"bytes=-10", 0, RangeKind::unsatisfiable},
  };
  for (const Case& c : cases) check(c);
}

TEST(Range, IgnoredServesTheWholeBody) {
  const Case cases[] = {
      // More than one range: not served.
      {"bytes=0-99,200-299", 1000, RangeKind::ignored},
      {"bytes=0-99, 100-199", 1000, RangeKind::ignored},
      {"bytes=0-0,-1", 1000, RangeKind::ignored},
      // Other units and missing parts.
      {"items=0-9", 1000, RangeKind::ignored},
      {"bytes 0-99", 1000, RangeKind::ignored},
      {"bytes", 1000, RangeKind::ignored},
      {"bytes=", 1000, RangeKind::ignored},
      {"bytes=,", 1000, RangeKind::ignored},
      {"bytes =0-99", 1000, RangeKind::ignored},
      {"bytes=-", 1000, RangeKind::ignored},
      {"bytes=--5", 1000, RangeKind::ignored},
      {"bytes=5", 1000, RangeKind::ignored},
      {"=0-99", 1000, RangeKind::ignored},
      {"bytesx=0-99", 1000, RangeKind::ignored},
      // Malformed numbers.
      {"bytes=a-b", 1000, RangeKind::ignored},
      {"bytes=0x10-0x20", 1000, RangeKind::ignored},
      {"bytes=+1-5", 1000, RangeKind::ignored},
      {"bytes=1-+5", 1000, RangeKind::ignored},
      {"bytes=-+5", 1000, RangeKind::ignored},
      {"bytes=1.5-2", 1000, RangeKind::ignored},
      {"bytes=0 - 99", 1000, RangeKind::ignored},
      {"bytes=0- 99", 1000, RangeKind::ignored},
      {"bytes=0-99-", 1000, RangeKind::ignored},
      {"bytes=1-2-3", 1000, RangeKind::ignored},
      {"bytes=0-99\r\n", 1000, RangeKind::ignored},
      {"bytes=0-99;", 1000, RangeKind::ignored},
      {std::string("bytes=0-9\0", 10), 1000, RangeKind::ignored},
      // last before first is invalid, not an empty range.
      {"bytes=100-99", 1000, RangeKind::ignored},
      {"bytes=2000-1000", 1000, RangeKind::ignored},
      // Too big for 64 bits: ignored, never wrapped.
      {"bytes=18446744073709551616-", 1000, RangeKind::ignored},
      {"bytes=0-18446744073709551616", 1000, RangeKind::ignored},
      {"bytes=-18446744073709551616", 1000, RangeKind::ignored},
      {"bytes=123456789012345678901234567890-", 1000, RangeKind::ignored},
      {"bytes=0-123456789012345678901234567890", 1000, RangeKind::ignored},
      {"bytes=-123456789012345678901234567890", 1000, RangeKind::ignored},
      {"bytes=" + std::string(5000, '9') + "-", 1000, RangeKind::ignored},
  };
  for (const Case& c : cases) check(c);
}

TEST(Range, ResponseHeaders) {
  EXPECT_EQ(content_range({0, 99}, 1000), "bytes 0-99/1000");
  EXPECT_EQ(content_range({999, 999}, 1000), "bytes 999-999/1000");
  EXPECT_EQ(content_range({5000000000, 5999999999}, 6000000000), "bytes 5000000000-5999999999/6000000000");
  EXPECT_EQ(content_range({0, kMax - 1}, kMax),
            "bytes 0-18446744073709551614/18446744073709551615");
  EXPECT_EQ(unsatisfied_range(1000), "bytes */1000");
  EXPECT_EQ(unsatisfied_range(0), "bytes */0");
}

TEST(Range, ParsedRangeFeedsContentRange) {
  RangeRequest r = parse_range("bytes=-100", 1000);
  ASSERT_EQ(r.kind, RangeKind::satisfiable);
  EXPECT_EQ(r.range, (ByteRange{900, 999}));
  EXPECT_EQ(content_range(r.range, 1000), "bytes 900-999/1000");
}

}  // namespace
}  // namespace attachgate::web
