// Tests web/request_framing.cc: which header blocks leave a body whose
// length cannot be told, or a request without exactly one Host.
#include "web/request_framing.h"

#include <gtest/gtest.h>

namespace attachgate::web {
namespace {

RequestFraming with_te(std::vector<std::string_view> te, unsigned version = 11) {
  RequestFraming f;
  f.version = version;
  f.transfer_encoding = std::move(te);
  f.host_fields = 1;
  return f;
}

TEST(RequestFraming, PlainRequestsPass) {
  EXPECT_EQ(framing_refusal(with_te({})), 0);
  RequestFraming f = with_te({});
  f.content_length_fields = 1;
  EXPECT_EQ(framing_refusal(f), 0);
}

TEST(RequestFraming, OnlyChunkedAloneIsABody) {
  for (std::string_view te : {"chunked", "Chunked", "CHUNKED", " chunked\t", "chunked,", ", chunked"})
    EXPECT_EQ(framing_refusal(with_te({te})), 0) << te;
  // Not chunked as the final coding: the body's length is unknown (RFC 9112 6.3).
  for (std::string_view te : {"xchunked", "gzip", "identity", "chunked, identity", "", " , ",
                              "chunked;x=1", "chunked , chunked", "chunkedx"})
    EXPECT_EQ(framing_refusal(with_te({te})), 400) << te;
  // Several fields are one list.
  EXPECT_EQ(framing_refusal(with_te({"chunked", "identity"})), 400);
  EXPECT_EQ(framing_refusal(with_te({"gzip", "chunked"})), 501);
  EXPECT_EQ(framing_refusal(with_te({"chunked", "chunked"})), 400);
  // Another coding before a final chunked: delimited, but not implemented.
  EXPECT_EQ(framing_refusal(with_te({"gzip, chunked"})), 501);
}

TEST(RequestFraming, TransferEncodingWithContentLengthOrOnHttp10IsRefused) {
  RequestFraming f = with_te({"chunked"});
  f.content_length_fields = 1;
  EXPECT_EQ(framing_refusal(f), 400);
  EXPECT_EQ(framing_refusal(with_te({"chunked"}, 10)), 400);
}

TEST(RequestFraming, Http11NeedsExactlyOneHost) {
  RequestFraming f;
  f.host_fields = 0;
  EXPECT_EQ(framing_refusal(f), 400);
  f.host_fields = 2;
  EXPECT_EQ(framing_refusal(f), 400);
  f.version = 10;
  EXPECT_EQ(framing_refusal(f), 400);
  f.host_fields = 0;
  EXPECT_EQ(framing_refusal(f), 0) << "HTTP/1.0 may leave Host out";
}

}  // namespace
}  // namespace attachgate::web
