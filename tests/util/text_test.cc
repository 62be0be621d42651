// Tests util/text.cc: untrusted text made safe for a terminal or a reader.
#include "util/text.h"

#include <gtest/gtest.h>

namespace attachgate {

TEST(Text, TerminalSafeEscapesControlsAndBadUtf8) {
  EXPECT_EQ(terminal_safe("plain report.pdf"), "plain report.pdf");
  EXPECT_EQ(terminal_safe("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(terminal_safe("a\x1b[2Jb"), "a\\x1b[2Jb");
  EXPECT_EQ(terminal_safe("line\r\nbreak"), "line\\x0d\\x0abreak");
  EXPECT_EQ(terminal_safe("bad\xff\xfe"), "bad\\xff\\xfe");
  EXPECT_EQ(terminal_safe("c1\xc2\x9b"), "c1\\x9b");  // C1 CSI
  EXPECT_EQ(terminal_safe(std::string(300, 'x'), 10), std::string(10, 'x') + "...");
}

TEST(Text, ValidUtf8) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("\xe2\x80\xae rlo"));
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // beyond U+10FFFF
  EXPECT_FALSE(valid_utf8("\xe2\x80"));          // cut short
}

TEST(Text, AsciiCaseFoldingLeavesOtherBytesAlone) {
  EXPECT_EQ(ascii_lower("Multipart/MIXED; Boundary=\xC3\x89"), "multipart/mixed; boundary=\xC3\x89");
  EXPECT_TRUE(equals_nocase("Content-Type", "content-TYPE"));
  EXPECT_FALSE(equals_nocase("Content-Type", "Content-Typ"));
  EXPECT_FALSE(equals_nocase("\xC3\x89", "\xC3\xA9"));  // no Unicode folding
}

TEST(Text, ToValidUtf8ReplacesEachBadByte) {
  EXPECT_EQ(to_valid_utf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(to_valid_utf8("a\xff\xc0\xaf" "b"), "a\uFFFD\uFFFD\uFFFDb");
  EXPECT_EQ(to_valid_utf8("cut\xe2\x80"), "cut\uFFFD\uFFFD");
}

TEST(Text, CleanDisplayTextDropsWhatAPersonCannotSee) {
  EXPECT_EQ(clean_display_text("invoice\u202Egpj.exe"), "invoicegpj.exe");
  EXPECT_EQ(clean_display_text("a\u200Bb\u2066c\u2069\uFEFFd"), "abcd");
  EXPECT_EQ(clean_display_text("x\x1b[31m\xc2\x9by\x7f"), "x[31my");
  EXPECT_EQ(clean_display_text("a\r\n\tb  \u00A0c \r\n"), "a b c");
  EXPECT_EQ(clean_display_text("bad\xff\uFFFD"), "bad__");
  EXPECT_EQ(clean_display_text("bad\xff", 200, "\uFFFD"), "bad\uFFFD");
  // Cut on a character boundary: three bytes of "\u00E9\u00E9" is one character.
  EXPECT_EQ(clean_display_text("\u00E9\u00E9", 3), "\u00E9");
  EXPECT_EQ(clean_display_text("a/b:c"), "a/b:c");
}

TEST(Text, TrimBlanksTakesOnlySpacesAndTabs) {
  EXPECT_EQ(trim_blanks(" \t a b \t "), "a b");
  EXPECT_EQ(trim_blanks("\r\na\r\n"), "\r\na\r\n");
  EXPECT_EQ(trim_blanks("   "), "");
}

TEST(Text, LowerHexOnly) {
  EXPECT_TRUE(is_lower_hex("0123456789abcdef"));
  EXPECT_FALSE(is_lower_hex(""));
  EXPECT_FALSE(is_lower_hex("ABCDEF"));
  EXPECT_FALSE(is_lower_hex("12g4"));
  EXPECT_FALSE(is_lower_hex("../1"));
}

}  // namespace attachgate
