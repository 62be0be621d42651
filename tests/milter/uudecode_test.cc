// Tests milter/uudecode.cc: what a uuencoder writes (backquote or space for
// zero, CRLF or LF, with or without a last line break) decodes back whole
// however it is cut, including the outside review's 100,000 random bytes;
// everything a client might read differently is doubted.
#include "milter/uudecode.h"

#include <gtest/gtest.h>

#include "tests/milter/decoder_harness.h"

namespace attachgate::milter {
namespace {

using testing::Decoded;
using testing::random_bytes;
using UU = UudecodeDecoder;

Decoded decode(const std::string& text) { return testing::decode_whole<UU>(text); }

char uu_char(unsigned v, bool backquote) { return v == 0 && backquote ? '`' : static_cast<char>(0x20 + v); }

// An encoder written from the format's description, as the test's reference.
std::string encode(const std::string& data, std::size_t per_line = 45, bool backquote = true,
                   const std::string& eol = "\r\n") {
  std::string out = "begin 644 data.bin" + eol;
  for (std::size_t pos = 0; pos < data.size(); pos += per_line) {
    const std::size_t n = std::min(per_line, data.size() - pos);
    out += uu_char(static_cast<unsigned>(n), backquote);
    for (std::size_t i = 0; i < n; i += 3) {
      unsigned char b[3] = {0, 0, 0};
      for (std::size_t k = 0; k < 3 && i + k < n; ++k) b[k] = static_cast<unsigned char>(data[pos + i + k]);
      const unsigned bits = b[0] << 16 | b[1] << 8 | b[2];
      for (int k = 3; k >= 0; --k) out += uu_char((bits >> (6 * k)) & 63, backquote);
    }
    out += eol;
  }
  out += uu_char(0, backquote) + eol + "end";
  return out;
}

TEST(Uudecode, EncodedDataDecodesBackWholeHoweverItIsCut) {
  std::mt19937 rng(11);
  for (std::size_t n : {0, 1, 2, 3, 44, 45, 46, 1000, 70000}) {
    const std::string data = random_bytes(rng, n);
    for (std::size_t per_line : {45, 1, 62, 63}) {
      for (bool backquote : {true, false}) {
        for (const std::string eol : {"\r\n", "\n"}) {
          const std::string text = encode(data, per_line, backquote, eol);
          for (const auto& s : testing::standard_splits()) {
            const Decoded d = testing::decode_in_pieces<UU>(text, s);
            ASSERT_EQ(d.bytes, data) << n << " bytes, " << per_line << " per line, piece " << s.front();
            ASSERT_EQ(d.doubt, nullptr) << n << " bytes, " << per_line << " per line";
          }
          ASSERT_EQ(decode(text + eol).bytes, data) << "a last line break changes nothing";
        }
      }
    }
  }
}

// The outside review stored 100,000 random bytes as 51,615.
TEST(Uudecode, HundredThousandRandomBytesStayWhole) {
  std::mt19937 rng(100000);
  const std::string data = random_bytes(rng, 100000);
  const Decoded d = testing::decode_in_pieces<UU>(encode(data), {65536});
  EXPECT_EQ(d.bytes.size(), 100000u);
  EXPECT_EQ(d.bytes, data);
  EXPECT_EQ(d.doubt, nullptr);
}

TEST(Uudecode, TolerableVariations) {
  const std::string body = "#86)C\r\n`\r\nend";  // "abc"
  EXPECT_EQ(decode("begin 644 a.txt\r\n" + body).bytes, "abc");
  EXPECT_EQ(decode("\r\n  \r\nbegin 600 a b c.txt\r\n" + body).doubt, nullptr) << "blank lines first";
  EXPECT_EQ(decode("begin 644 a.txt\r\n#86)C\r\nend\r\n").bytes, "abc") << "no zero-length line";
  EXPECT_EQ(decode("begin 644 a.txt\r\n" + body + "\r\n\r\n").doubt, nullptr) << "blank lines after";
  EXPECT_EQ(decode("begin 644 a.txt\r\n#86)C``\r\n`\r\n  end  ").bytes, "abc") << "zero padding, spaced end";
}

TEST(Uudecode, DoubtWhereClientsDisagree) {
  const std::string body = "#86)C\r\n`\r\nend";
  EXPECT_STREQ(decode(body).doubt, "uuencode text before the begin line");
  EXPECT_STREQ(decode("").doubt, "uuencode without its end line");
  EXPECT_STREQ(decode("hello\r\nbegin 644 a\r\n" + body).doubt, "uuencode text before the begin line");
  EXPECT_STREQ(decode("begin 6x4 a\r\n" + body).doubt, "uuencode text before the begin line");
  EXPECT_STREQ(decode("begin-base64 644 a\r\n" + body).doubt, "uuencode text before the begin line");
  EXPECT_STREQ(decode("begin 644 a\r\n#86)C\r\n`\r\n").doubt, "uuencode without its end line");
  EXPECT_STREQ(decode("begin 644 a\r\n#0V\r\n`\r\nend").doubt, "uuencode line shorter than its length character says");
  EXPECT_STREQ(decode("begin 644 a\r\n#86)C!\r\n`\r\nend").doubt, "uuencode character out of range");
  EXPECT_STREQ(decode("begin 644 a\r\n#0v%T\r\n`\r\nend").doubt, "uuencode character out of range");
  EXPECT_STREQ(decode("begin 644 a\r\n#86)C\r\n`\r\n#86)C\r\nend").doubt, "uuencode data after the zero-length line");
  EXPECT_STREQ(decode("begin 644 a\r\n#86)C\r\n\r\n#86)C\r\nend").doubt, "uuencode blank line inside the data");
  EXPECT_STREQ(decode("begin 644 a\r\n" + body + "\r\nbegin 644 b\r\n" + body).doubt, "uuencode text after the end line");
  EXPECT_STREQ(decode("begin 644 a\r\n" + std::string(300, 'M') + "\r\n`\r\nend").doubt, "uuencode line too long");
}

TEST(Uudecode, GarbageNeverOverrunsTheBound) {
  std::mt19937 rng(3);
  const std::string alphabet = "M`!\"#$%&'()*+,-./0123456789:;<=>?@ABCZ[\\]^_ \r\nbeginend 644";
  for (int round = 0; round < 300; ++round) {
    std::string text = "begin 644 x\r\n";
    for (std::size_t i = rng() % 600; i > 0; --i) text += alphabet[rng() % alphabet.size()];
    const Decoded whole = decode(text);
    const Decoded ones = testing::decode_in_pieces<UU>(text, {1});
    EXPECT_EQ(ones.bytes, whole.bytes);
    EXPECT_EQ(whole.doubt == nullptr, ones.doubt == nullptr);
  }
}

}  // namespace
}  // namespace attachgate::milter
