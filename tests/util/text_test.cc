// Tests util/text.cc: untrusted text made safe for a terminal.
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

}  // namespace attachgate
