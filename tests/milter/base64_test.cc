// Tests milter/base64.cc: well-formed input decodes as GMime decodes it,
// whatever the line breaks and however the input is split; malformed input
// decodes leniently; the output never exceeds max_output().
#include "milter/base64.h"
#include "tests/milter/decoder_harness.h"

#include <gmime/gmime.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace attachgate::milter {
namespace {

using testing::random_bytes;

// GMime's encoder: lines of 76 characters ending in "\n".
std::string gmime_encode(const std::string& data) {
  std::string out(data.size() * 2 + 16, '\0');
  GMimeEncoding enc;
  g_mime_encoding_init_encode(&enc, GMIME_CONTENT_ENCODING_BASE64);
  std::size_t n = g_mime_encoding_flush(&enc, data.data(), data.size(), out.data());
  out.resize(n);
  return out;
}

std::string gmime_decode(const std::string& text) {
  std::string out(text.size() + 16, '\0');
  GMimeEncoding dec;
  g_mime_encoding_init_decode(&dec, GMIME_CONTENT_ENCODING_BASE64);
  std::size_t n = g_mime_encoding_flush(&dec, text.data(), text.size(), out.data());
  out.resize(n);
  return out;
}

std::string decode_in_pieces(const std::string& text, const std::vector<std::size_t>& sizes) {
  return testing::decode_in_pieces<Base64Decoder>(text, sizes).bytes;
}

const char* doubt_of(const std::string& text) { return testing::decode_whole<Base64Decoder>(text).doubt; }

std::string decode(const std::string& text) { return decode_in_pieces(text, {text.size() + 1}); }

std::string with_line_ends(std::string text, const std::string& eol) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += eol;
    else out += c;
  }
  return out;
}

class Base64 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { g_mime_init(); }
};

TEST_F(Base64, WellFormedInputDecodesAsGmimeDoes) {
  std::mt19937 rng(42);
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n <= 200; ++n) lengths.push_back(n);
  lengths.insert(lengths.end(), {1023, 4096, 65535, 65536, 65537, 300000});
  const auto& splits = testing::standard_splits();
  for (std::size_t n : lengths) {
    const std::string data = random_bytes(rng, n);
    const std::string lf = gmime_encode(data);
    for (const std::string& eol : {std::string("\n"), std::string("\r\n"), std::string()}) {
      const std::string text = with_line_ends(lf, eol);
      ASSERT_EQ(gmime_decode(text), data) << "reference broken at " << n;
      ASSERT_EQ(decode(text), data) << "length " << n << ", eol size " << eol.size();
      ASSERT_EQ(doubt_of(text), nullptr) << "length " << n;
      if (n > 200 && n != 65537) continue;
      for (const auto& s : splits)
        ASSERT_EQ(decode_in_pieces(text, s), data) << "length " << n << ", piece " << s.front();
    }
  }
}

TEST_F(Base64, DecodesTheRfc4648Vectors) {
  EXPECT_EQ(decode(""), "");
  EXPECT_EQ(decode("Zg=="), "f");
  EXPECT_EQ(decode("Zm8="), "fo");
  EXPECT_EQ(decode("Zm9v"), "foo");
  EXPECT_EQ(decode("Zm9vYg=="), "foob");
  EXPECT_EQ(decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(decode("Zm9vYmFy"), "foobar");
}

TEST_F(Base64, MalformedInputDecodesLeniently) {
  // Missing padding: the partial group still counts.
  EXPECT_EQ(decode("Zm9vYg"), "foob");
  EXPECT_EQ(decode("Zm9vYmE"), "fooba");
  // A last group of one character carries no whole byte.
  EXPECT_EQ(decode("Zm9vY"), "foo");
  // Junk and white space anywhere are skipped, also inside a group.
  EXPECT_EQ(decode("Zm!9 v\r\nY*m\tFy"), "foobar");
  EXPECT_EQ(decode(std::string("\x80\xff" "Zm9v\0" "Ym Fy", 12)), "foobar");
  // Two encodings glued together (padding mid-stream) decode whole.
  EXPECT_EQ(decode("Zg==Zm8=Zm9v"), "ffofoo");
  // Extra or stray '=' changes nothing.
  EXPECT_EQ(decode("Zm9v===="), "foo");
  EXPECT_EQ(decode("===Zm9v"), "foo");
  // Nothing decodable at all.
  EXPECT_EQ(decode("!!!!\r\n----"), "");
}

// Where Python's email (and so, possibly, a recipient's client) reads the
// text differently, the decoder says so and the attachment stays in the mail.
TEST_F(Base64, DoubtWhereClientsDisagree) {
  EXPECT_EQ(doubt_of("Zm9vYg=="), nullptr);
  EXPECT_EQ(doubt_of("Zm9vYg"), nullptr) << "missing padding is read alike";
  EXPECT_EQ(doubt_of("Zm!9 v\r\nY*m\tFy"), nullptr) << "junk is skipped alike";
  EXPECT_EQ(doubt_of("Zm9vYg==\r\n\r\n"), nullptr);
  EXPECT_EQ(doubt_of("Zm9vYg===="), nullptr) << "extra padding";
  EXPECT_STREQ(doubt_of("Zm9v===="), "base64 '=' where no padding can stand");
  EXPECT_STREQ(doubt_of("Zg==Zm8=Zm9v"), "base64 data after the final padding");
  EXPECT_STREQ(doubt_of("Zm9vY"), "base64 ends with a lone character");
  EXPECT_STREQ(doubt_of("===Zm9v"), "base64 '=' where no padding can stand");
  EXPECT_STREQ(doubt_of("Zm9vY=Zm9v"), "base64 '=' where no padding can stand");
  // The doubt does not depend on where the input is cut.
  for (const auto& s : testing::standard_splits())
    EXPECT_STREQ(testing::decode_in_pieces<Base64Decoder>("Zg==\r\nZm8=", s).doubt, "base64 data after the final padding");
}

TEST_F(Base64, GarbageNeverOverrunsTheBound) {
  std::mt19937 rng(7);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/==\r\n !";
  for (int round = 0; round < 200; ++round) {
    std::string text(rng() % 400, '\0');
    for (auto& c : text) c = (rng() % 8 == 0) ? static_cast<char>(rng() & 0xff) : alphabet[rng() % alphabet.size()];
    const std::string whole = decode(text);
    // However it is split, the same bytes come out.
    EXPECT_EQ(decode_in_pieces(text, {1}), whole);
    EXPECT_EQ(decode_in_pieces(text, {3, 5}), whole);
  }
}

}  // namespace
}  // namespace attachgate::milter
