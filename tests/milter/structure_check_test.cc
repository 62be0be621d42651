// Tests milter/structure_check.cc: preambles, epilogues and part header
// blocks over the limit are found while the body streams in, whatever the
// chunking and line ends, and ordinary messages (large bodies included) pass.
#include "milter/structure_check.h"

#include <gtest/gtest.h>
#include <gmime/gmime.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "milter/processor.h"  // init_gmime

namespace attachgate::milter {
namespace {

constexpr std::uint64_t kLimit = 1024;

std::string crlf(const std::string& lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::string repeat_lines(const std::string& line, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) out += line + "\n";
  return out;
}

// About 12 KB of base64-looking text: part bodies are never counted.
std::string base64_body() {
  return repeat_lines("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5", 160);
}

void feed_string(StructureCheck& check, const std::string& body, std::size_t chunk) {
  const auto* p = reinterpret_cast<const unsigned char*>(body.data());
  for (std::size_t i = 0; i < body.size(); i += chunk)
    check.feed(p + i, std::min(chunk, body.size() - i));
  check.finish();
}

std::optional<std::string> run(std::string_view content_type, const std::string& body,
                               std::uint64_t limit = kLimit, int max_depth = 8) {
  StructureCheck check(content_type, limit, max_depth);
  feed_string(check, body, body.size() + 1);
  return check.problem();
}

const char* const kMixed = "multipart/mixed; boundary=\"frontier\"";

std::string normal_mixed() {
  return "This is a multi-part message in MIME format.\n"
         "--frontier\n"
         "Content-Type: text/plain; charset=utf-8\n"
         "\n"
         "Hello,\n"
         "-- \n"
         "--frontier-not-a-boundary\n"
         "--frontier extra words\n"
         "----------------------------------------\n"
         "signature\n"
         "--frontier\n"
         "Content-Type: application/pdf; name=\"report.pdf\"\n"
         "Content-Disposition: attachment; filename=\"report.pdf\"\n"
         "Content-Transfer-Encoding: base64\n"
         "\n" +
         base64_body() +
         "--frontierX\n"
         "--frontier\n"
         "Content-Type: image/png\n"
         "Content-Transfer-Encoding: base64\n"
         "\n" +
         base64_body() +
         "--frontier--\n"
         "epilogue text\n";
}

TEST(StructureCheck, NormalMixedWithAttachmentsPasses) {
  StructureCheck check(kMixed, kLimit, 8);
  feed_string(check, crlf(normal_mixed()), 4096);
  EXPECT_EQ(check.problem(), std::nullopt);
  EXPECT_EQ(check.part_count(), 3u);
}

TEST(StructureCheck, NonMultipartTopLevelIsNotChecked) {
  EXPECT_EQ(run("text/plain", repeat_lines("--frontier--", 2000)), std::nullopt);
  EXPECT_EQ(run("", repeat_lines("x", 5000)), std::nullopt);
}

TEST(StructureCheck, PreambleJustUnderLimitPassesAndOverFails) {
  const std::string tail = "--frontier\nContent-Type: text/plain\n\nhi\n--frontier--\n";
  // The boundary line belongs to the part header block, not the preamble.
  const std::string at_limit = std::string(1023, 'p') + "\n";
  EXPECT_EQ(run(kMixed, at_limit + tail), std::nullopt);
  const std::string over = std::string(1024, 'p') + "\n";
  EXPECT_EQ(run(kMixed, over + tail), "multipart preamble over 1 KiB");
}

TEST(StructureCheck, PreambleOverLimitInManyLines) {
  const std::string body = repeat_lines("This is a preamble line.", 100) +
                           "--frontier\nContent-Type: text/plain\n\nhi\n--frontier--\n";
  EXPECT_EQ(run(kMixed, crlf(body)), "multipart preamble over 1 KiB");
}

TEST(StructureCheck, BoundaryThatNeverAppearsIsAllPreamble) {
  const std::string body = "--frontie\n" + repeat_lines("--frontier-x", 200);
  EXPECT_EQ(run(kMixed, body), "multipart preamble over 1 KiB");
  EXPECT_EQ(run(kMixed, "short and sweet\n"), std::nullopt);
}

// GMime would make a boundary up to write such a multipart, encoding its
// Content-Type again; found by fuzz/structure_check_fuzz.cc, GMime 3.2's
// encoder can then ask for 1 GiB and abort, so the mail passes unwritten.
TEST(StructureCheck, MultipartWithoutABoundaryIsPassedUnchanged) {
  EXPECT_EQ(run("multipart/mixed", "--frontier\n\nx\n"), "multipart without a usable boundary");
  const std::string nested = "--frontier\nContent-Type: multipart/mixed; b" + std::string(64, 'W') +
                             "oundary=\xff\x8a\n\nx\n--frontier--\n";
  EXPECT_EQ(run(kMixed, nested), "multipart without a usable boundary");
}

// GMime decodes an RFC 2231 boundary*, and the check reads the Content-Type
// with GMime's own parser.
TEST(StructureCheck, Rfc2231BoundaryIsFollowed) {
  const std::string body = "--frontier\n\n" + base64_body();
  EXPECT_EQ(run("multipart/mixed; boundary*=utf-8''frontier", body), std::nullopt);
  EXPECT_EQ(run("multipart/mixed; boundary*=utf-8''frontier", std::string(2000, 'p') + "\n" + body),
            "multipart preamble over 1 KiB");
}

// The parts GMime 3.2 builds from a message with this Content-Type and body
// (children of every multipart in its tree).
std::uint64_t gmime_parts(const std::string& content_type, const std::string& body) {
  init_gmime();
  const std::string raw = "Content-Type: " + content_type + "\r\n\r\n" + body;
  GMimeStream* stream = g_mime_stream_mem_new_with_buffer(raw.data(), raw.size());
  GMimeParser* parser = g_mime_parser_new_with_stream(stream);
  GMimeMessage* message = g_mime_parser_construct_message(parser, nullptr);
  std::uint64_t parts = 0;
  std::vector<GMimeObject*> todo;
  if (message) todo.push_back(g_mime_message_get_mime_part(message));
  while (!todo.empty()) {
    GMimeObject* obj = todo.back();
    todo.pop_back();
    if (GMIME_IS_MULTIPART(obj)) {
      const int n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
      parts += static_cast<std::uint64_t>(n);
      for (int i = 0; i < n; ++i) todo.push_back(g_mime_multipart_get_part(GMIME_MULTIPART(obj), i));
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
      if (GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj)))
        todo.push_back(g_mime_message_get_mime_part(inner));
    }
  }
  if (message) g_object_unref(message);
  g_object_unref(parser);
  g_object_unref(stream);
  return parts;
}

// Content-Type values whose parameters are broken in ways the fuzzer found:
// the check must see at least the parts GMime builds (fewer would let a
// preamble GMime holds in memory go unchecked).
TEST(StructureCheck, CountsWhatGMimeBuildsForBrokenContentTypes) {
  const std::string body = crlf("--m\nContent-Type: text/plain\n\nx\n--m\n\ny\n--m--\n");
  for (const std::string ct : {
           "multipart/mixed; boundary=\"m\"",
           "multipart/mixe\"d; boundary=\"m\"",
           "multipart/mi\x93xed; boundary=m",
           "multipart/mixed; boundary*=utf-8''m",
           "multipart/mixed; bofilename*0*=undary=oumvulipartiy=\"framultipart/diges#multipart"
           "\xff\x82G\xf1/lixed; boundary=\"m\"",
           "multipart/mixed; x=\"unterminated; boundary=m",
           "multipart/mixed; boundary=m; boundary=other",
       }) {
    StructureCheck check(ct, kLimit, 8);
    feed_string(check, body, 5);
    EXPECT_GE(check.part_count(), gmime_parts(ct, body)) << ct;
  }
}

// Found by fuzz/structure_check_fuzz.cc: GMime takes boundary="" as a
// boundary, and splits at lines of "--"; the check took it for none.
TEST(StructureCheck, AnEmptyBoundaryIsABoundary) {
  const std::string ct = "multipart/d;boundary=\"\"";
  const std::string body = crlf("--\n\nx\n--\n\ny\n----\n");
  StructureCheck check(ct, kLimit, 8);
  feed_string(check, body, 3);
  EXPECT_EQ(check.part_count(), gmime_parts(ct, body));
  EXPECT_EQ(check.part_count(), 2u);
}

// Found by fuzz/structure_check_fuzz.cc: a boundary line that ends a part's
// header block is read again inside that part, where a multipart declared
// in the block takes it as its own first boundary (same name as an outer
// one). The check took it for the outer multipart's next part.
TEST(StructureCheck, ABoundaryLineEndingAHeaderBlockOpensTheMultipartItDeclares) {
  const std::string ct = "multipart/mixed;boundary=\"u\"";
  const std::string body = crlf(
      "--u\nContent-Type: multipart/mixed;boundary=\"v\"\n\n"
      "--v\nContent-Type: multipart/mixed;boundary=\"u\"\n--u\n\n--v\n y\n");
  StructureCheck check(ct, kLimit, 8);
  feed_string(check, body, 4);
  EXPECT_GE(check.part_count(), gmime_parts(ct, body));
  EXPECT_EQ(check.problem(), std::nullopt);
}

// Found by fuzz/structure_check_fuzz.cc: GMime reads a header's 8-bit
// bytes as Latin-1 when they are not UTF-8, so boundary="m\xd4" splits at
// lines of "--m\xc3\x94".
TEST(StructureCheck, AnEightBitBoundaryIsReadAsGMimeReadsIt) {
  const std::string ct = "multipart/mixed; boundary=\"m\xd4\"";
  const std::string body = crlf("--m\xc3\x94\n\nx\n--m\xc3\x94\n\ny\n--m\xc3\x94--\n");
  StructureCheck check(ct, kLimit, 8);
  feed_string(check, body, 3);
  EXPECT_EQ(gmime_parts(ct, body), 2u);
  EXPECT_EQ(check.part_count(), 2u);
}

// Found by fuzz/structure_check_fuzz.cc: in a digest, GMime takes a part
// whose Content-Type it cannot read for the default, message/rfc822, and
// parses the message in it.
TEST(StructureCheck, AnUnreadableContentTypeInADigestIsAMessage) {
  const std::string ct = "multipart/digest; boundary=\"d\"";
  for (const std::string value : {"", "garbage", "text", "application/octet-stream"}) {
    const std::string body = crlf("--d\nContent-Type: " + value +
                                  "\n\nContent-Type: multipart/mixed; boundary=\"v\"\n\n--v\n\nx\n--v--\n--d--\n");
    StructureCheck check(ct, kLimit, 8);
    feed_string(check, body, 3);
    EXPECT_GE(check.part_count(), gmime_parts(ct, body)) << value;
  }
}

// Found by fuzz/structure_check_fuzz.cc: the check read
// "quoted-printable/1" as quoted-printable and took the embedded message
// for an opaque body; GMime reads no encoding in it and parses the message.
TEST(StructureCheck, AnEmbeddedMessageIsEncodedOnlyWhenGMimeSaysSo) {
  const std::string ct = "multipart/x; boundary=\"m\"";
  for (const std::string value : {"quoted-printable/1", "base64x", "(c) base64", "base64 x",
                                  " Quoted-Printable", "x-uue", "7bit"}) {
    const std::string body = crlf("--m\nContent-Type: message/rfc822\nContent-Transfer-Encoding:" +
                                  value + "\n\nContent-Type: multipart/mixed; boundary=\"v\"\n\n"
                                  "--v\n\nx\n--v\n\ny\n--v--\n--m--\n");
    StructureCheck check(ct, kLimit, 8);
    feed_string(check, body, 3);
    EXPECT_GE(check.part_count(), gmime_parts(ct, body)) << value;
  }
}

// Found by fuzz/structure_check_fuzz.cc: GMime reads a header value
// without its trailing white space, so boundary="a<space> (unterminated)
// is "a; the check kept the space and saw no boundary lines.
TEST(StructureCheck, TrailingWhiteSpaceIsNotPartOfAnUnterminatedBoundary) {
  for (const std::string ct : {"multipart/l;boundary=\" ", "multipart/l;boundary=\"a  \t"}) {
    const std::string b = ct.find("\"a") != std::string::npos ? "\"a" : "\"";
    const std::string body = crlf("--" + b + "\n\nx\n--" + b + "\n\ny\n");
    StructureCheck check(ct, kLimit, 8);
    feed_string(check, body, 3);
    EXPECT_EQ(gmime_parts(ct, body), 2u) << ct;
    EXPECT_EQ(check.part_count(), 2u) << ct;
  }
}

// A body whose raw message (as gmime_parts writes it) holds `line_start`
// and then "--m" at byte 4096, where GMime 3.2's first 4 KiB read ends: a
// first part of filler lines, then a part opening with `part_head`.
std::string delimiter_at_4096(const std::string& ct, const std::string& part_head,
                              const std::string& line_start, std::size_t shift = 0) {
  const std::string raw_head = "Content-Type: " + ct + "\r\n\r\n";
  const std::string first = crlf("--m\n\n" + repeat_lines(std::string(70, 'f'), 50));
  const std::size_t used = raw_head.size() + first.size() + part_head.size() + line_start.size();
  const std::string pad(4096 + shift - used, 's');
  return first + part_head + line_start + pad + crlf("--m\nX: y\n\nz\n--m--\n");
}

// Found by fuzz/structure_check_fuzz.cc (the check counted 15 parts,
// GMime 16), after the input was reduced to this: GMime 3.2 reads the
// message 4 KiB at a time, and when a read ends inside a header value or a
// body line longer than 128 bytes, it reads the rest of the line as a line
// of its own. If that rest is a boundary line, it splits the part there:
// one more part, with a header block (held in memory) that the check took
// for the inside of another. Where its reads end depends on all that came
// before, so the check gives up on every line ending in a delimiter.
TEST(StructureCheck, ALineEndingInADelimiterIsAProblemOfItsOwn) {
  const std::string ct = "multipart/mixed; boundary=\"m\"";
  const std::string in_message = crlf("--m\nContent-Type: message/rfc822\n\nX-0: h\nX-1: h\n");
  const std::string in_body = crlf("--m\nContent-Type: text/plain\n\n");
  for (const auto& [part_head, line_start] : {std::pair{in_message, std::string("Subject: ")},
                                              std::pair{in_body, std::string(130, 'b')}}) {
    const std::string body = delimiter_at_4096(ct, part_head, line_start);
    EXPECT_EQ(gmime_parts(ct, body), 3u) << line_start;  // not 2
    StructureCheck check(ct, kLimit, 8);
    feed_string(check, body, 7);
    EXPECT_EQ(check.problem(), "a line ending in a boundary delimiter") << line_start;
    // A byte later GMime reads the line whole; the check gives up all the same.
    const std::string later = delimiter_at_4096(ct, part_head, line_start, 1);
    EXPECT_EQ(gmime_parts(ct, later), 2u) << line_start;
    EXPECT_EQ(run(ct, later), "a line ending in a boundary delimiter") << line_start;
  }
}

TEST(StructureCheck, OnlyALineEndingInADelimiterAfterItsStartIsAProblem) {
  const std::string inner = "--frontier\nContent-Type: multipart/mixed; boundary=in\n\n--in\n\n";
  const std::vector<std::string> ending_in_one = {
      "text --frontier", "text --frontier--", "x--frontier \t\r", "x--in", "x--in--",
      std::string(3 << 20, ' ') + "--frontier",
      std::string(3 << 20, 'x') + "--frontier" + std::string(3 << 20, ' ')};
  for (const std::string& line : ending_in_one) {
    const std::string body = inner + line + "\n--in--\n--frontier--\n";
    for (const std::size_t chunk : {std::size_t{65536}, std::size_t{3}}) {
      StructureCheck check(kMixed, kLimit, 8);
      feed_string(check, body, chunk);
      EXPECT_EQ(check.problem(), "a line ending in a boundary delimiter") << line.substr(0, 40);
    }
  }
  for (const std::string line : {"--frontier-x", "x--frontierx", "x--frontier x", "x--inner",
                                 "x--frontier---", "x--f", "x-frontier"}) {
    const std::string body = inner + line + "\n--in--\n--frontier--\n";
    EXPECT_EQ(run(kMixed, body), std::nullopt) << line;
  }
  // Outside the multipart that declares it, a delimiter is text.
  EXPECT_EQ(run(kMixed, inner + "--in--\nx--in\n--frontier--\n"), std::nullopt);
}

TEST(StructureCheck, SmallPreambleAndEpilogueAreFine) {
  const std::string body =
      "preamble\n--frontier\nContent-Type: text/plain\n\nhi\n--frontier--\nepilogue\n";
  EXPECT_EQ(run(kMixed, body), std::nullopt);
  EXPECT_EQ(run(kMixed, crlf(body)), std::nullopt);
}

TEST(StructureCheck, EpilogueOverLimit) {
  const std::string body = "--frontier\nContent-Type: text/plain\n\nhi\n--frontier--\n" +
                           repeat_lines("epilogue epilogue epilogue", 60);
  EXPECT_EQ(run(kMixed, crlf(body), 1024), "multipart epilogue over 1 KiB");
  EXPECT_EQ(run(kMixed, crlf(body), 4096), std::nullopt);
}

TEST(StructureCheck, EpilogueWithoutFinalNewlineStillCounts) {
  const std::string body = "--frontier\n\nhi\n--frontier--\n" + std::string(3000, 'e');
  EXPECT_EQ(run(kMixed, body), "multipart epilogue over 1 KiB");
}

TEST(StructureCheck, FoldedPartHeaderOverLimit) {
  std::string header = "X-Long: start\n";
  for (int i = 0; i < 100; ++i) header += "\tcontinued folded header text\n";
  const std::string body = "--frontier\nContent-Type: text/plain\n" + header +
                           "\nbody\n--frontier--\n";
  EXPECT_EQ(run(kMixed, crlf(body)), "MIME part header block over 1 KiB");
  EXPECT_EQ(run(kMixed, crlf(body), 8192), std::nullopt);
}

// GMime reads lines that are not fields into the header block until an
// empty line or a boundary line.
TEST(StructureCheck, PartHeaderBlockWithoutEmptyLineRunsOn) {
  const std::string body = "--frontier\nContent-Type: text/plain\n" + base64_body() +
                           "--frontier--\n";
  EXPECT_EQ(run(kMixed, body), "MIME part header block over 1 KiB");
}

// Found by fuzz/structure_check_fuzz.cc: GMime 3.2 ends a part's header
// block at a boundary line of an enclosing multipart. Running on hid the
// next part's multipart, whose preamble GMime then held in memory.
TEST(StructureCheck, BoundaryLineEndsAPartHeaderBlock) {
  const std::string body = "--frontier\nContent-Type: text/plain\nX-No-Empty-Line: yes\n"
                           "--frontier\nContent-Type: multipart/mixed; boundary=inner\n\n" +
                           std::string(2000, 'p') + "\n--inner--\n--frontier--\n";
  StructureCheck check(kMixed, kLimit, 8);
  feed_string(check, crlf(body), 7);
  EXPECT_EQ(check.problem(), "multipart preamble over 1 KiB");
  EXPECT_EQ(check.part_count(), 2u);
}

// Found by fuzz/structure_check_fuzz.cc: GMime 3.2 reads a subtype with
// 8-bit bytes in it as a multipart (dropping the bytes); the check took the
// whole message for a single part and looked no further.
TEST(StructureCheck, EightBitBytesInASubtypeStillMakeAMultipart) {
  const std::string body = std::string(2000, 'p') + "\n--frontier\n\nx\n--frontier--\n";
  EXPECT_EQ(run("multipart/mi\x93xed; boundary=frontier", body), "multipart preamble over 1 KiB");
  EXPECT_EQ(run("multipart/\x93; boundary=frontier", body), "multipart preamble over 1 KiB");
  // In the type, an 8-bit byte makes GMime build a single part.
  EXPECT_EQ(run("multi\x93part/mixed; boundary=frontier", body), std::nullopt);
}

// Found by fuzz/structure_check_fuzz.cc: GMime 3.2 skips what follows a
// subtype up to the first ';', a quote included; the check read the quote
// as the start of a quoted string, found no boundary and took the message
// for a single part.
TEST(StructureCheck, AQuoteAfterTheSubtypeDoesNotHideTheBoundary) {
  StructureCheck check("multipart/mixe\"d; boundary=\"frontier\"", kLimit, 8);
  feed_string(check, crlf("--frontier\n\nx\n--frontier\n\ny\n--frontier--\n"), 7);
  EXPECT_EQ(check.problem(), std::nullopt);
  EXPECT_EQ(check.part_count(), 2u);
}

// Found by fuzz/structure_check_fuzz.cc: in a part's header block, as at the
// top level, GMime 3.2 takes the last Content-Type (but the first
// Content-Transfer-Encoding).
TEST(StructureCheck, LastContentTypeOfAPartWins) {
  const std::string hidden = "--frontier\nContent-Type: text/plain\n"
                             "Content-Type: multipart/mixed; boundary=inner\n\n" +
                             std::string(2000, 'p') + "\n--inner--\n--frontier--\n";
  EXPECT_EQ(run(kMixed, hidden), "multipart preamble over 1 KiB");
  const std::string shown = "--frontier\nContent-Type: multipart/mixed; boundary=inner\n"
                            "Content-Type: text/plain\n\n" +
                            std::string(2000, 'p') + "\n--inner--\n--frontier--\n";
  EXPECT_EQ(run(kMixed, shown), std::nullopt);
}

std::string nested(const std::string& inner_epilogue) {
  return "--outer\n"
         "Content-Type: multipart/alternative;\n"
         " BOUNDARY=inner\n"
         "\n"
         "--inner\n"
         "Content-Type: text/plain\n"
         "\n"
         "plain\n"
         "--inner\n"
         "Content-Type: text/html\n"
         "\n"
         "<p>html</p>\n"
         "--inner--\n" +
         inner_epilogue +
         "--outer\n"
         "Content-Type: application/octet-stream\n"
         "\n" +
         base64_body() + "--outer--\n";
}

TEST(StructureCheck, NestedAlternativeInnerEpilogueOverLimit) {
  const char* const type = "multipart/mixed; boundary=outer";
  EXPECT_EQ(run(type, crlf(nested("small\n"))), std::nullopt);
  EXPECT_EQ(run(type, crlf(nested(repeat_lines("inner epilogue line", 80)))),
            "multipart epilogue over 1 KiB");
}

TEST(StructureCheck, OuterBoundaryClosesInnerWithoutClosingBoundary) {
  // If the outer boundary left "inner" open, "--inner--" in the later body
  // would start an epilogue and the body after it would be counted.
  const std::string body = "--outer\n"
                           "Content-Type: multipart/alternative; boundary=inner\n"
                           "\n"
                           "--inner\n"
                           "Content-Type: text/plain\n"
                           "\n"
                           "no closing inner boundary follows\n"
                           "--outer\n"
                           "Content-Type: text/plain\n"
                           "\n"
                           "--inner--\n" +
                           base64_body() + "--outer--\n";
  StructureCheck check("multipart/mixed; boundary=outer", kLimit, 8);
  feed_string(check, crlf(body), 512);
  EXPECT_EQ(check.problem(), std::nullopt);
  EXPECT_EQ(check.part_count(), 3u);
}

TEST(StructureCheck, OuterBoundaryEndsInnerPreamble) {
  const std::string body = "--outer\n"
                           "Content-Type: multipart/mixed; boundary=inner\n"
                           "\n"
                           "inner preamble, inner boundary never comes\n"
                           "--outer\n"
                           "\n" +
                           base64_body() + "--outer--\n";
  EXPECT_EQ(run("multipart/mixed; boundary=outer", body), std::nullopt);
}

TEST(StructureCheck, QuotedBoundaryWithSpaces) {
  const std::string body = "preamble\n"
                           "--simple boundary with spaces\n"
                           "Content-Type: text/plain\n"
                           "\n" +
                           base64_body() +
                           "--simple boundary with spaces\n"
                           "\n" +
                           base64_body() + "--simple boundary with spaces--  \n";
  StructureCheck check("multipart/mixed;\r\n\tboundary=\"simple boundary with spaces\"", kLimit,
                       8);
  feed_string(check, crlf(body), 100);
  EXPECT_EQ(check.problem(), std::nullopt);
  EXPECT_EQ(check.part_count(), 2u);
}

TEST(StructureCheck, UnquotedBoundaryWithEqualsSign) {
  const std::string body = "--=_Part_1=\nContent-Type: text/plain\n\n" + base64_body() +
                           "--=_Part_1=--\n";
  EXPECT_EQ(run("multipart/mixed; charset=x; boundary==_Part_1=", body), std::nullopt);
}

TEST(StructureCheck, LfOnlyLineEnds) {
  EXPECT_EQ(run(kMixed, normal_mixed()), std::nullopt);
  const std::string body = "--frontier\n\nhi\n--frontier--\n" + repeat_lines("epilogue", 200);
  EXPECT_EQ(run(kMixed, body), "multipart epilogue over 1 KiB");
}

TEST(StructureCheck, TrailingWhitespaceAfterBoundaryIsAllowed) {
  const std::string body = "--frontier \t\n\n" + base64_body() + "--frontier--\t\n";
  EXPECT_EQ(run(kMixed, crlf(body)), std::nullopt);
  // Text after the delimiter makes it body text: all preamble then.
  const std::string not_boundary = "--frontier x\n\n" + base64_body();
  EXPECT_EQ(run(kMixed, not_boundary), "multipart preamble over 1 KiB");
}

TEST(StructureCheck, LongLinesInBodiesAreNotCountedNorBuffered) {
  const std::string long_line = "--frontier" + std::string(3 << 20, 'x') + "\n";
  const std::string body = "--frontier\n\n" + long_line + std::string(3 << 20, '-') +
                           "\n--frontier--\n";
  StructureCheck check(kMixed, kLimit, 8);
  feed_string(check, crlf(body), 65536);
  EXPECT_EQ(check.problem(), std::nullopt);
  EXPECT_EQ(check.part_count(), 1u);
  // The same long line in the preamble is counted.
  EXPECT_EQ(run(kMixed, long_line), "multipart preamble over 1 KiB");
}

TEST(StructureCheck, EmbeddedMessageHeadersAndMultipartAreTracked) {
  const std::string inner_headers = "From: a@example.org\n"
                                    "Subject: inner\n"
                                    "Content-Type: multipart/mixed; boundary=deep\n"
                                    "\n";
  auto message = [&](const std::string& inner_preamble) {
    return "--frontier\n"
           "Content-Type: message/rfc822\n"
           "\n" +
           inner_headers + inner_preamble + "--deep\n\n" + base64_body() + "--deep--\n" +
           "--frontier--\n";
  };
  EXPECT_EQ(run(kMixed, message("short\n")), std::nullopt);
  EXPECT_EQ(run(kMixed, message(repeat_lines("inner preamble", 100))),
            "multipart preamble over 1 KiB");

  std::string big_inner_header = "Subject: x\n";
  for (int i = 0; i < 100; ++i) big_inner_header += " folded subject text\n";
  const std::string body = "--frontier\nContent-Type: message/rfc822\n\n" + big_inner_header +
                           "\nbody\n--frontier--\n";
  EXPECT_EQ(run(kMixed, body), "MIME part header block over 1 KiB");
}

TEST(StructureCheck, EncodedEmbeddedMessageIsABody) {
  const std::string body = "--frontier\n"
                           "Content-Type: message/rfc822\n"
                           "Content-Transfer-Encoding: base64\n"
                           "\n" +
                           base64_body() + "--frontier--\n";
  EXPECT_EQ(run(kMixed, body), std::nullopt);
}

TEST(StructureCheck, EmptyEmbeddedMessageBeforeBoundary) {
  const std::string body = "--frontier\nContent-Type: message/rfc822\n\n"
                           "--frontier\n\n" +
                           base64_body() + "--frontier--\n";
  EXPECT_EQ(run(kMixed, body), std::nullopt);
}

TEST(StructureCheck, DigestPartsDefaultToMessages) {
  std::string big_inner_header = "Subject: x\n";
  for (int i = 0; i < 100; ++i) big_inner_header += " folded subject text\n";
  const std::string body = "--frontier\n\n" + big_inner_header + "\nbody\n--frontier--\n";
  EXPECT_EQ(run("multipart/digest; boundary=frontier", body), "MIME part header block over 1 KiB");
  // In multipart/mixed the same part is text/plain: its "headers" are body.
  EXPECT_EQ(run(kMixed, body), std::nullopt);
}

// Found by fuzz/structure_check_fuzz.cc: past max_depth the check stopped
// tracking, and GMime held an epilogue over the limit at depth 33. Such mail
// is now a problem of its own (the scan passes it unchanged for its depth).
TEST(StructureCheck, NestingBeyondMaxDepthIsAProblemOfItsOwn) {
  const std::string body = "--outer\n"
                           "Content-Type: multipart/mixed; boundary=inner\n"
                           "\n" +
                           repeat_lines("inner preamble", 100) + "--inner--\n--outer--\n";
  EXPECT_EQ(run("multipart/mixed; boundary=outer", body, kLimit, 2),
            "multipart preamble over 1 KiB");
  EXPECT_EQ(run("multipart/mixed; boundary=outer", body, kLimit, 1), "MIME nesting deeper than 1");
  const std::string shallow = "--outer\nContent-Type: multipart/mixed; boundary=inner\n\n"
                              "--inner\n\nx\n--inner--\n--outer--\n";
  EXPECT_EQ(run("multipart/mixed; boundary=outer", shallow, kLimit, 2), std::nullopt);
}

TEST(StructureCheck, OverlongBoundaryIsIgnored) {
  const std::string boundary(250, 'b');
  const std::string body = "--" + boundary + "\n\n" + base64_body() + "--" + boundary + "--\n";
  EXPECT_EQ(run("multipart/mixed; boundary=" + boundary, body), "multipart without a usable boundary");
  // 200 bytes is accepted: "--" boundary "--" then fills the whole line head.
  const std::string longest(200, 'b');
  const std::string longest_body = "--" + longest + "\n\n" + base64_body() + "--" + longest +
                                   "--" + std::string(3000, ' ') + "\n";
  EXPECT_EQ(run("multipart/mixed; boundary=" + longest, crlf(longest_body)), std::nullopt);
  // ...and its closing line is recognised: what follows is an epilogue.
  EXPECT_EQ(run("multipart/mixed; boundary=" + longest, longest_body + std::string(2000, 'e')),
            "multipart epilogue over 1 KiB");
  const std::string ok(70, 'b');
  const std::string ok_body = "--" + ok + "\n\n" + base64_body() + "--" + ok + "--\n";
  EXPECT_EQ(run("multipart/mixed; boundary=" + ok, ok_body), std::nullopt);
}

TEST(StructureCheck, LimitIsDescribedInReadableUnits) {
  const std::string body = std::string(300 * 1024, 'p') + "\n";
  EXPECT_EQ(run(kMixed, body, 256 * 1024), "multipart preamble over 256 KiB");
  EXPECT_EQ(run(kMixed, body, 1000), "multipart preamble over 1000 bytes");
}

TEST(StructureCheck, ChunkingDoesNotChangeTheResult) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {kMixed, crlf(normal_mixed())},
      {kMixed, normal_mixed()},
      {"multipart/mixed; boundary=outer", crlf(nested(repeat_lines("inner epilogue", 80)))},
      {"multipart/mixed; boundary=outer", crlf(nested("x\n"))},
      {kMixed, crlf("--frontier\nContent-Type: text/plain\n" +
                    repeat_lines("\tfolded", 200) + "\nx\n--frontier--\n")},
      {kMixed, crlf(repeat_lines("preamble", 200) + "--frontier--\n")},
  };
  std::mt19937 rng(20240611);
  for (const auto& [type, body] : cases) {
    const auto whole = run(type, body);
    StructureCheck bytewise(type, kLimit, 8);
    feed_string(bytewise, body, 1);
    EXPECT_EQ(bytewise.problem(), whole) << body.substr(0, 80);

    for (int round = 0; round < 20; ++round) {
      StructureCheck check(type, kLimit, 8);
      const auto* p = reinterpret_cast<const unsigned char*>(body.data());
      std::size_t i = 0;
      while (i < body.size()) {
        const std::size_t n = std::min<std::size_t>(1 + rng() % 97, body.size() - i);
        check.feed(p + i, n);
        i += n;
      }
      check.finish();
      EXPECT_EQ(check.problem(), whole) << "round " << round << ": " << body.substr(0, 80);
      EXPECT_EQ(check.part_count(), bytewise.part_count());
    }
  }
  // The cases above include both outcomes, so equality is not vacuous.
  EXPECT_EQ(run(kMixed, crlf(normal_mixed())), std::nullopt);
  EXPECT_NE(run("multipart/mixed; boundary=outer", crlf(nested(repeat_lines("e", 800)))),
            std::nullopt);
}

}  // namespace
}  // namespace attachgate::milter
