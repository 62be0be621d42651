// Tests web/multipart.cc: parts and their bytes come out the same however
// the body is cut into pieces, boundary look-alikes inside a file survive,
// and every malformed body is an Error rather than a guess.
#include "web/multipart.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace attachgate::web {
namespace {

struct Part {
  PartInfo info;
  std::string data;
  bool ended = false;
};

struct Collected {
  std::vector<Part> parts;
  MultipartReader::Callbacks callbacks() {
    return {[this](const PartInfo& p) {
              parts.push_back({p, "", false});
              return Status{};
            },
            [this](const char* d, std::size_t n) {
              parts.back().data.append(d, n);
              return Status{};
            },
            [this] {
              parts.back().ended = true;
              return Status{};
            }};
  }
};

const std::string kBoundary = "----XyZ42";

// A body with a field and a file whose bytes hold near-boundaries.
std::string body(const std::string& file_bytes) {
  return "preamble to ignore\r\n"
         "------XyZ42\r\n"
         "Content-Disposition: form-data; name=\"max_downloads\"\r\n\r\n"
         "3\r\n"
         "------XyZ42\r\n"
         "Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".pdf\"\r\n"
         "Content-Type: application/pdf\r\n\r\n" +
         file_bytes +
         "\r\n------XyZ42--\r\nepilogue to ignore";
}

std::string tricky_bytes() {
  std::string s = "start\r\n------XyZ4 not quite\r\n--\r\n------XyZ\r\n";
  s.push_back('\0');
  s += "\r\n------XyZ4";  // ends with a partial delimiter before the real one
  return s;
}

void check(const Collected& c, const std::string& file_bytes) {
  ASSERT_EQ(c.parts.size(), 2u);
  EXPECT_EQ(c.parts[0].info.name, "max_downloads");
  EXPECT_FALSE(c.parts[0].info.filename.has_value());
  EXPECT_EQ(c.parts[0].data, "3");
  EXPECT_EQ(c.parts[1].info.name, "file");
  EXPECT_EQ(c.parts[1].info.filename.value_or("?"), "a \"b\".pdf");
  EXPECT_EQ(c.parts[1].info.content_type, "application/pdf");
  EXPECT_EQ(c.parts[1].data, file_bytes);
  EXPECT_TRUE(c.parts[0].ended && c.parts[1].ended);
}

TEST(Multipart, WholeBodyInOnePiece) {
  Collected c;
  MultipartReader r(kBoundary, c.callbacks());
  const std::string file = tricky_bytes();
  const std::string b = body(file);
  ASSERT_TRUE(r.feed(b.data(), b.size()).ok());
  ASSERT_TRUE(r.finish().ok());
  check(c, file);
}

TEST(Multipart, EveryCutGivesTheSameParts) {
  const std::string file = tricky_bytes();
  const std::string b = body(file);
  for (std::size_t piece : {1u, 2u, 3u, 5u, 7u, 13u, 64u}) {
    Collected c;
    MultipartReader r(kBoundary, c.callbacks());
    for (std::size_t i = 0; i < b.size(); i += piece)
      ASSERT_TRUE(r.feed(b.data() + i, std::min(piece, b.size() - i)).ok()) << piece;
    ASSERT_TRUE(r.finish().ok()) << piece;
    check(c, file);
  }
}

TEST(Multipart, ABodyWithoutItsClosingBoundaryIsAnError) {
  Collected c;
  MultipartReader r(kBoundary, c.callbacks());
  std::string b = body("data");
  b.resize(b.find("\r\n------XyZ42--"));
  ASSERT_TRUE(r.feed(b.data(), b.size()).ok());
  auto end = r.finish();
  ASSERT_FALSE(end.ok());
  EXPECT_NE(end.error().message.find("closing"), std::string::npos);
}

TEST(Multipart, OversizedPartHeadersAreRefused) {
  Collected c;
  MultipartReader r(kBoundary, c.callbacks());
  std::string b = "------XyZ42\r\nContent-Disposition: form-data; name=\"file\"\r\nX-Pad: " +
                  std::string(kMaxPartHeaderBytes + 10, 'a');
  auto s = r.feed(b.data(), b.size());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("too large"), std::string::npos);
  // Nothing more is taken after an error.
  EXPECT_FALSE(r.feed("x", 1).ok());
}

TEST(Multipart, APartWithoutANameIsRefused) {
  Collected c;
  MultipartReader r(kBoundary, c.callbacks());
  std::string b = "------XyZ42\r\nContent-Type: text/plain\r\n\r\nx\r\n------XyZ42--";
  EXPECT_FALSE(r.feed(b.data(), b.size()).ok());
  EXPECT_TRUE(c.parts.empty());
}

TEST(Multipart, ABodyWithNoBoundaryAtAllIsRefused) {
  Collected c;
  MultipartReader r(kBoundary, c.callbacks());
  std::string junk(70 * 1024, 'j');
  EXPECT_FALSE(r.feed(junk.data(), junk.size()).ok());
}

// Found by fuzz/multipart_fuzz.cc: a preamble over the limit was refused
// when it came in pieces but taken when the boundary was in the same piece.
TEST(Multipart, TheLongPreambleLimitHoldsHoweverTheBodyIsCut) {
  const std::string b = std::string(kMaxPreambleBytes + 10, 'p') + body("data");
  for (std::size_t piece : {std::size_t{1000}, b.size()}) {
    Collected c;
    MultipartReader r(kBoundary, c.callbacks());
    Status s;
    for (std::size_t i = 0; s && i < b.size(); i += piece)
      s = r.feed(b.data() + i, std::min(piece, b.size() - i));
    EXPECT_FALSE(s.ok()) << piece;
    EXPECT_TRUE(c.parts.empty()) << piece;
  }
}

TEST(Multipart, ACallbackErrorStopsTheReader) {
  int data_calls = 0;
  MultipartReader r(kBoundary, {[](const PartInfo&) { return Status{}; },
                                [&](const char*, std::size_t) {
                                  ++data_calls;
                                  return Status(make_error("over the limit"));
                                },
                                [] { return Status{}; }});
  const std::string b = body(std::string(1000, 'x'));
  auto s = r.feed(b.data(), b.size());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "over the limit");
  EXPECT_EQ(data_calls, 1);
}

TEST(Multipart, BoundaryFromContentType) {
  EXPECT_EQ(form_data_boundary("multipart/form-data; boundary=abc").value(), "abc");
  EXPECT_EQ(form_data_boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b:c\"").value(), "a b:c");
  EXPECT_FALSE(form_data_boundary("multipart/form-data").ok());
  EXPECT_FALSE(form_data_boundary("application/octet-stream; boundary=abc").ok());
  EXPECT_FALSE(form_data_boundary("multipart/form-data; boundary=" + std::string(71, 'a')).ok());
  EXPECT_FALSE(form_data_boundary("multipart/form-data; boundary=a\x01" "b").ok());
}

}  // namespace
}  // namespace attachgate::web
