// Tests config/match.cc: globs and address normalisation used by policy rules.
//
// The hostile case uses a pattern that makes naive backtracking matchers
// exponential; it would hang rather than fail if the matcher regressed.
#include "config/match.h"

#include <gtest/gtest.h>

#include <string>

namespace attachgate::config {
namespace {

TEST(MatchGlob, MatchesStarAndQuestionMark) {
  struct Case {
    const char* pattern;
    const char* text;
    bool match;
  };
  const Case cases[] = {
      {"*", "", true},
      {"*", "anything", true},
      {"*.zip", "backup.zip", true},
      {"*.zip", "Backup.ZIP", true},
      {"*.zip", "backup.zip.exe", false},
      {"*.zip", "zip", false},
      {"image/*", "image/png", true},
      {"image/*", "IMAGE/JPEG", true},
      {"image/*", "application/png", false},
      {"boss?@example.org", "boss1@example.org", true},
      {"boss?@example.org", "boss@example.org", false},
      {"boss?@example.org", "boss12@example.org", false},
      {"a*b*c", "aXXbYYc", true},
      {"a*b*c", "aXXbYY", false},
      {"report-?.pdf", "report-\xC3\xA9.pdf", true},  // ? is one character, not one byte
      {"exact", "exact", true},
      {"exact", "exactly", false},
      {"", "", true},
      {"", "x", false},
      {"[x]", "[x]", true},  // brackets are literal
      {"[x]", "x", false},
  };
  for (const Case& c : cases)
    EXPECT_EQ(glob_match(c.pattern, c.text), c.match) << c.pattern << " vs " << c.text;
}

// A backtracking matcher would take exponential time here and hang the test.
TEST(MatchGlob, HostileInputStaysLinear) {
  std::string text(20000, 'a');
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*b", text));
  EXPECT_TRUE(glob_match("*a*a*a*a*a*a*a*a*a*a*", text));
}

TEST(MatchAddress, NormalizeStripsBracketsAndCase) {
  EXPECT_EQ(normalize_address("<User@Example.COM>"), "user@example.com");
  EXPECT_EQ(normalize_address("  bob@example.org "), "bob@example.org");
  EXPECT_EQ(normalize_address("<>"), "");
  EXPECT_EQ(normalize_address("root"), "root");
}

TEST(MatchAddress, DomainIsAfterLastAt) {
  EXPECT_EQ(address_domain("<User@Example.COM>"), "example.com");
  EXPECT_EQ(address_domain("\"a@b\"@Example.org."), "example.org");
  EXPECT_EQ(address_domain("root"), "");
  EXPECT_EQ(address_domain(""), "");
}

TEST(MatchText, ContainsIgnoresCase) {
  EXPECT_TRUE(contains_nocase("Re: [SECURE] report", "[secure]"));
  EXPECT_FALSE(contains_nocase("Re: [secur] report", "[secure]"));
  EXPECT_FALSE(contains_nocase("ab", "abc"));
  EXPECT_EQ(ascii_lower("MiXeD-\xC3\x89"), "mixed-\xC3\x89");  // non-ASCII bytes untouched
}

}  // namespace
}  // namespace attachgate::config
