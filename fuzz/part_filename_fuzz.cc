// fuzz/part_filename_fuzz.cc - attachment names as the milter reads them
// (milter/filename.*): Content-Disposition filename / Content-Type name,
// RFC 2231 and RFC 2047, any charset, through GMime, then sanitised.
//
// Input: a whole message (the corpus is mostly part header blocks with
// hostile names). For every MIME object GMime builds, checked beyond memory
// safety: the raw name is valid UTF-8; the safe name is non-empty, at most
// 200 bytes, valid UTF-8, free of controls and path separators, does not
// start or end with a dot or space, and is its own sanitised form.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "fuzz/gmime_view.h"
#include "milter/filename.h"
#include "util/text.h"

using namespace attachgate;

namespace {

bool plain_name(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp;
    i += decode_utf8(s, i, cp);
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == '/' || cp == '\\') return false;
  }
  return true;
}

void check_part(GMimeObject* obj) {
  const std::string raw = milter::raw_part_filename(obj);
  FUZZ_CHECK(valid_utf8(raw), "raw name is not UTF-8");
  const std::string safe = milter::part_filename(obj);
  FUZZ_CHECK(!safe.empty() && safe.size() <= 200 && valid_utf8(safe) && plain_name(safe),
             "part_filename '%s'", safe.c_str());
  FUZZ_CHECK(safe.front() != '.' && safe.front() != ' ' && safe.back() != '.' && safe.back() != ' ',
             "part_filename '%s'", safe.c_str());
  FUZZ_CHECK(milter::sanitize_filename(safe) == safe, "not idempotent: '%s'", safe.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto message = fuzz::parse_message(in);
  if (!message) return 0;
  fuzz::walk(g_mime_message_get_mime_part(message.get()), 1,
             [](GMimeObject* obj, int) { check_part(obj); });
  return 0;
}
