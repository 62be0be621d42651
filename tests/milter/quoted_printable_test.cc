// Tests milter/quoted_printable.cc: what GMime's encoder writes decodes back
// whole however it is cut; the edge cases mail clients agree on (lowercase
// hex, soft breaks anywhere and at the very end, long runs of them) decode
// as they do; where clients disagree, doubt() says so.
#include "milter/quoted_printable.h"

#include <gmime/gmime.h>
#include <gtest/gtest.h>

#include "tests/milter/decoder_harness.h"

namespace attachgate::milter {
namespace {

using testing::Decoded;
using testing::random_bytes;
using QP = QuotedPrintableDecoder;

Decoded decode(const std::string& text) { return testing::decode_whole<QP>(text); }

std::string gmime_encode(const std::string& data) {
  std::string out(data.size() * 4 + 16, '\0');
  GMimeEncoding enc;
  g_mime_encoding_init_encode(&enc, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  std::size_t n = g_mime_encoding_flush(&enc, data.data(), data.size(), out.data());
  out.resize(n);
  return out;
}

class QuotedPrintable : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { g_mime_init(); }
};

TEST_F(QuotedPrintable, GmimeEncodingDecodesBackWholeHoweverItIsCut) {
  std::mt19937 rng(13);
  for (std::size_t n : {0, 1, 2, 75, 76, 77, 200, 4096, 70000}) {
    const std::string data = random_bytes(rng, n);
    const std::string text = gmime_encode(data);
    for (const auto& s : testing::standard_splits()) {
      const Decoded d = testing::decode_in_pieces<QP>(text, s);
      ASSERT_EQ(d.bytes, data) << "length " << n << ", piece " << s.front();
      ASSERT_EQ(d.doubt, nullptr) << "length " << n;
    }
  }
}

TEST_F(QuotedPrintable, EdgeCasesClientsAgreeOn) {
  EXPECT_EQ(decode("caf=C3=A9").bytes, "caf\xC3\xA9");
  EXPECT_EQ(decode("caf=c3=a9 =3d=3D").bytes, "caf\xC3\xA9 ==") << "lowercase hex";
  EXPECT_EQ(decode("soft=\r\nbreak").bytes, "softbreak");
  EXPECT_EQ(decode("soft=\nbreak").bytes, "softbreak") << "bare LF";
  EXPECT_EQ(decode("ends in a soft break=").bytes, "ends in a soft break");
  EXPECT_EQ(decode("ends in a soft break=\r\n").bytes, "ends in a soft break");
  EXPECT_EQ(decode("two\r\nlines\r\n").bytes, "two\r\nlines\r\n");
  EXPECT_EQ(decode("space before soft break \t=\r\nx").bytes, "space before soft break \tx");
  EXPECT_EQ(decode("a\tb c").bytes, "a\tb c");
  EXPECT_EQ(decode(std::string("8bit \xff\x80 and NUL \0.", 17)).bytes, std::string("8bit \xff\x80 and NUL \0.", 17));
  EXPECT_EQ(decode("=\r\n=\r\n=\r\n").bytes, "");
  for (const char* t : {"caf=c3=a9", "=\r\n=\r\nx=", "a=\nb", "x\r\n"}) EXPECT_EQ(decode(t).doubt, nullptr) << t;
}

// The outside review's case: a run of soft breaks longer than 4 KiB that
// decodes to nothing used to end the attachment there (stored as 0 bytes).
TEST_F(QuotedPrintable, LongRunsOfSoftBreaksLoseNothing) {
  std::string text, want;
  for (int i = 0; i < 1366; ++i) text += "=\r\n";
  for (int i = 0; i < 540; ++i) {
    text += std::string(75, 'A') + "=\r\n";
    want += std::string(75, 'A');
  }
  text += "END";
  want += "END";
  for (const auto& s : testing::standard_splits()) {
    const Decoded d = testing::decode_in_pieces<QP>(text, s);
    ASSERT_EQ(d.bytes.size(), want.size()) << "piece " << s.front();
    ASSERT_EQ(d.bytes, want);
    ASSERT_EQ(d.doubt, nullptr);
  }
}

TEST_F(QuotedPrintable, DoubtWhereClientsDisagree) {
  const char* stray = "quoted-printable '=' not followed by two hex digits or a line break";
  const char* trailing = "quoted-printable line ends in whitespace";
  EXPECT_STREQ(decode("a=zz").doubt, stray);
  EXPECT_STREQ(decode("a=4").doubt, stray);
  EXPECT_STREQ(decode("a=4g").doubt, stray);
  EXPECT_STREQ(decode("a==41").doubt, stray);
  EXPECT_STREQ(decode("a= \r\nb").doubt, stray) << "transport padding after a soft break";
  EXPECT_STREQ(decode("a=\rb").doubt, "quoted-printable '=' followed by a bare CR");
  EXPECT_STREQ(decode("trailing \r\nx").doubt, trailing);
  EXPECT_STREQ(decode("trailing\t\nx").doubt, trailing);
  EXPECT_STREQ(decode("ends in a space ").doubt, trailing);
  // Cut between '=' and its digits, the verdict is the same.
  for (const auto& s : testing::standard_splits()) {
    EXPECT_STREQ(testing::decode_in_pieces<QP>("ab=4x=41", s).doubt, stray);
    EXPECT_EQ(testing::decode_in_pieces<QP>("ab=4a=41", s).bytes, "abJA");
  }
}

TEST_F(QuotedPrintable, GarbageNeverOverrunsTheBound) {
  std::mt19937 rng(5);
  const std::string alphabet = "=0123456789abcdefABCDEF \t\r\nxyz";
  for (int round = 0; round < 300; ++round) {
    std::string text(rng() % 300, '\0');
    for (auto& c : text) c = (rng() % 10 == 0) ? static_cast<char>(rng() & 0xff) : alphabet[rng() % alphabet.size()];
    const Decoded whole = decode(text);
    const Decoded ones = testing::decode_in_pieces<QP>(text, {1});
    EXPECT_EQ(whole.doubt == nullptr, ones.doubt == nullptr) << text;
    if (whole.doubt == nullptr) {
      EXPECT_EQ(ones.bytes, whole.bytes);
    }
  }
}

}  // namespace
}  // namespace attachgate::milter
