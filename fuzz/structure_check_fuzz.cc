// fuzz/structure_check_fuzz.cc - StructureCheck (milter/structure_check.*)
// differentially against GMime, which the check exists to predict.
//
// Input: a top-level Content-Type value (first line), then the body. The
// message is "MIME-Version + that Content-Type + body", with CRLF line ends
// as Postfix hands them over. The check reads the body in pieces whose sizes
// follow from the input; GMime parses the whole message. They must agree:
//  1. (safety) when the check finds no problem, no multipart prologue or
//     epilogue and no part header block in GMime's tree is over the limit
//     (plus one line end of slack: the check counts the CRLF that ends a
//     preamble, GMime drops it);
//  2. (count) when the check finds no problem, GMime's tree has no more
//     parts (children of all its multiparts) than part_count(), unless the
//     message uses what the check documents it does not follow (a
//     multipart nested deeper than max_depth, a boundary over 200 bytes or
//     written as RFC 2231 `boundary*`). Fewer is allowed: GMime drops a
//     part whose header block the message ends in, the check has counted
//     its boundary; counting high only makes the part limit stricter;
//  3. piece sizes do not change the check's verdict or count.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "fuzz/mta_text.h"
#include "fuzz/gmime_view.h"
#include "milter/structure_check.h"
#include "util/text.h"

using namespace attachgate;

namespace {

constexpr std::uint64_t kLimit = 512;
constexpr int kMaxDepth = 32;  // as ServiceConfig's max_mime_depth
constexpr std::uint64_t kSlack = 2;

struct Verdict {
  std::optional<std::string> problem;
  std::uint64_t parts = 0;
};

Verdict check(std::string_view content_type, std::string_view body, std::uint32_t seed) {
  milter::StructureCheck c(content_type, kLimit, kMaxDepth);
  const auto* p = reinterpret_cast<const unsigned char*>(body.data());
  for (std::size_t at = 0; at < body.size();) {
    std::size_t n = body.size() - at;
    if (seed != 0) {
      seed = seed * 1103515245u + 12345u;
      n = std::min<std::size_t>(n, 1 + (seed >> 16) % 97);
    }
    c.feed(p + at, n);
    at += n;
  }
  c.finish();
  return {c.problem(), c.part_count()};
}

std::uint64_t header_bytes(GMimeObject* obj) {
  GMimeHeaderList* list = g_mime_object_get_header_list(obj);
  std::uint64_t n = 0;
  for (int i = 0; list && i < g_mime_header_list_get_count(list); ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(list, i);
    const char* raw = g_mime_header_get_raw_value(h);
    n += std::strlen(g_mime_header_get_name(h)) + 1 + (raw ? std::strlen(raw) : 0);
  }
  return n;
}

struct GMimeView {
  std::uint64_t parts = 0;
  std::uint64_t biggest_block = 0;
  std::string biggest_what = "nothing";
  bool untracked = false;  // uses what the check documents it does not follow
};

GMimeView gmime_view(GMimeMessage* message) {
  GMimeView v;
  auto block = [&](std::uint64_t n, const char* what) {
    if (n > v.biggest_block) {
      v.biggest_block = n;
      v.biggest_what = what;
    }
  };
  fuzz::walk(g_mime_message_get_mime_part(message), 1, [&](GMimeObject* obj, int depth) {
    if (depth > 1) block(header_bytes(obj), "part header block");
    if (GMIME_IS_MESSAGE_PART(obj))
      if (GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj)))
        block(header_bytes(GMIME_OBJECT(inner)), "inner message header block");
    if (!GMIME_IS_MULTIPART(obj)) return;
    auto* mp = GMIME_MULTIPART(obj);
    if (depth > kMaxDepth) v.untracked = true;
    const char* boundary = g_mime_multipart_get_boundary(mp);
    if (boundary && std::strlen(boundary) > 200) v.untracked = true;
    const char* raw_ct = g_mime_object_get_header(obj, "Content-Type");
    if (raw_ct && ascii_lower(raw_ct).find("boundary*") != std::string::npos) v.untracked = true;
    v.parts += static_cast<std::uint64_t>(g_mime_multipart_get_count(mp));
    if (const char* pro = g_mime_multipart_get_prologue(mp)) block(std::strlen(pro), "prologue");
    if (const char* epi = g_mime_multipart_get_epilogue(mp)) block(std::strlen(epi), "epilogue");
  });
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t eol = in.find('\n');
  if (eol == std::string_view::npos) return 0;
  const std::string_view content_type = in.substr(0, eol);
  if (content_type.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) return 0;
  const std::string body = fuzz::to_crlf(in.substr(eol + 1));

  std::uint32_t seed = 1;
  for (char c : body) seed = seed * 31 + static_cast<unsigned char>(c);
  const Verdict whole = check(content_type, body, 0);
  const Verdict pieces = check(content_type, body, seed | 1);
  FUZZ_CHECK(whole.problem == pieces.problem && whole.parts == pieces.parts,
             "whole: %s, %llu parts; in pieces: %s, %llu parts",
             whole.problem.value_or("-").c_str(), static_cast<unsigned long long>(whole.parts),
             pieces.problem.value_or("-").c_str(), static_cast<unsigned long long>(pieces.parts));
  if (whole.problem) return 0;

  const std::string raw = "MIME-Version: 1.0\r\nContent-Type: " + std::string(content_type) +
                          "\r\n\r\n" + body;
  auto message = fuzz::parse_message(raw);
  // The check documents that it looks only inside a multipart top level.
  if (!message || !GMIME_IS_MULTIPART(g_mime_message_get_mime_part(message.get()))) return 0;
  const GMimeView v = gmime_view(message.get());
  FUZZ_CHECK(v.biggest_block <= kLimit + kSlack, "the check passed a %s of %llu bytes (limit %llu)",
             v.biggest_what.c_str(), static_cast<unsigned long long>(v.biggest_block),
             static_cast<unsigned long long>(kLimit));
  if (!v.untracked)
    FUZZ_CHECK(v.parts <= whole.parts, "the check counted %llu parts, GMime built %llu",
               static_cast<unsigned long long>(whole.parts), static_cast<unsigned long long>(v.parts));
  return 0;
}
