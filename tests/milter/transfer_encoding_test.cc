// Tests milter/transfer_encoding.cc: the encodings every client knows are
// recognised in any case and spacing; anything else leaves the part in doubt.
#include "milter/transfer_encoding.h"

#include <gtest/gtest.h>

#include <cstring>

#include "milter/gobject_ptr.h"

namespace attachgate::milter {
namespace {

bool is(const std::variant<TransferEncoding, EncodingDoubt>& v, TransferEncoding e) {
  return std::holds_alternative<TransferEncoding>(v) && std::get<TransferEncoding>(v) == e;
}

TEST(TransferEncoding, KnownTokens) {
  EXPECT_TRUE(is(parse_transfer_encoding("base64"), TransferEncoding::base64));
  EXPECT_TRUE(is(parse_transfer_encoding(" BASE64\r\n"), TransferEncoding::base64));
  EXPECT_TRUE(is(parse_transfer_encoding("Quoted-Printable"), TransferEncoding::quoted_printable));
  EXPECT_TRUE(is(parse_transfer_encoding("x-uuencode"), TransferEncoding::uuencode));
  EXPECT_TRUE(is(parse_transfer_encoding("x-uue"), TransferEncoding::uuencode));
  for (const char* t : {"7bit", "8bit", "binary", "8BIT"})
    EXPECT_TRUE(is(parse_transfer_encoding(t), TransferEncoding::identity)) << t;
}

TEST(TransferEncoding, AnythingElseIsInDoubt) {
  for (const char* t : {"", "x-gzip64", "base64 (comment)", "base-64", "quoted-printable; x", "7-bit"}) {
    const auto v = parse_transfer_encoding(t);
    ASSERT_TRUE(std::holds_alternative<EncodingDoubt>(v)) << t;
    EXPECT_NE(std::get<EncodingDoubt>(v).why.find("unknown Content-Transfer-Encoding"), std::string::npos);
  }
}

GPtr<GMimeObject> parse_part(const char* text) {
  g_mime_init();
  auto stream = adopt(g_mime_stream_mem_new_with_buffer(text, std::strlen(text)));
  auto parser = adopt(g_mime_parser_new_with_stream(stream.get()));
  return adopt(g_mime_parser_construct_part(parser.get(), nullptr));
}

TEST(TransferEncoding, FromTheParsedPart) {
  auto none = parse_part("Content-Type: application/pdf\r\n\r\nx\r\n");
  ASSERT_TRUE(none);
  EXPECT_TRUE(is(transfer_encoding_of(none.get()), TransferEncoding::identity));
  auto folded = parse_part("Content-Type: application/pdf\r\nContent-Transfer-Encoding:\r\n base64\r\n\r\nQQ==\r\n");
  EXPECT_TRUE(is(transfer_encoding_of(folded.get()), TransferEncoding::base64));
  auto two = parse_part(
      "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
      "Content-Transfer-Encoding: 7bit\r\n\r\nQQ==\r\n");
  const auto v = transfer_encoding_of(two.get());
  ASSERT_TRUE(std::holds_alternative<EncodingDoubt>(v));
  EXPECT_EQ(std::get<EncodingDoubt>(v).why, "two Content-Transfer-Encoding headers");
}

}  // namespace
}  // namespace attachgate::milter
