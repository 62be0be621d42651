// fuzz/web_headers_fuzz.cc - the small parsers and formatters of web/ that
// read request headers and bodies or write names into response headers:
// Range, application/x-www-form-urlencoded, Content-Disposition and the
// display name, the response type, and util's sanitize_filename.
//
// Every function gets the whole input. Checked beyond memory safety: each
// output keeps the contract its header states (a served range lies inside
// the body, form limits hold, header values carry no CR/LF/NUL/8-bit byte,
// names are bounded valid UTF-8 without controls or path separators).
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "util/filename.h"
#include "util/text.h"
#include "web/content_headers.h"
#include "web/form.h"
#include "web/multipart.h"
#include "web/range.h"

using namespace attachgate;
using namespace attachgate::web;

namespace {

bool header_safe(std::string_view v) {
  for (unsigned char c : v)
    if (c == '\r' || c == '\n' || c == 0 || c >= 0x80) return false;
  return true;
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// No C0/C1 control or DEL, no path separator.
bool plain_name(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp;
    i += decode_utf8(s, i, cp);
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == '/' || cp == '\\') return false;
  }
  return true;
}

void check_range(std::string_view header, std::uint64_t size) {
  RangeRequest r = parse_range(header, size);
  if (r.kind != RangeKind::satisfiable) return;
  FUZZ_CHECK(r.range.first <= r.range.last && r.range.last < size, "range %llu-%llu of %llu",
             static_cast<unsigned long long>(r.range.first),
             static_cast<unsigned long long>(r.range.last), static_cast<unsigned long long>(size));
  FUZZ_CHECK(header_safe(content_range(r.range, size)), "Content-Range");
}

void check_form(std::string_view body) {
  auto form = parse_form(body);
  if (!form) {
    FUZZ_CHECK(header_safe(form.error().message), "form error message");
    return;
  }
  FUZZ_CHECK(form->fields.size() <= kMaxFormFields, "%zu fields", form->fields.size());
  for (const auto& [name, value] : form->fields) {
    FUZZ_CHECK(name.size() <= kMaxFormNameBytes && value.size() <= kMaxFormValueBytes,
               "field of %zu/%zu bytes", name.size(), value.size());
    FUZZ_CHECK(valid_utf8(name) && valid_utf8(value), "form field is not UTF-8");
    FUZZ_CHECK(form->get(name) != nullptr, "get() misses a field");
  }
  for (bool plus : {false, true})
    if (auto decoded = percent_decode(body, plus))
      FUZZ_CHECK(decoded->size() <= body.size(), "decoding grew the text");
}

void check_names(std::string_view name) {
  const std::string disposition = content_disposition(name);
  FUZZ_CHECK(header_safe(disposition), "Content-Disposition is not a safe header value");
  FUZZ_CHECK(disposition.rfind("attachment; filename=\"", 0) == 0, "%s", disposition.c_str());

  const std::string shown = sanitize_display_name(name);
  FUZZ_CHECK(!shown.empty() && valid_utf8(shown) && plain_name(shown), "display name '%s'",
             shown.c_str());
  FUZZ_CHECK(code_points(shown) <= 200, "display name of %zu code points", code_points(shown));
  FUZZ_CHECK(shown[0] != '.' && shown[0] != ' ', "display name '%s'", shown.c_str());

  const std::string type = response_content_type(name);
  FUZZ_CHECK(header_safe(type) && type.find(';') == std::string::npos, "type '%s'", type.c_str());
  (void)is_form_content_type(name);
  if (auto boundary = form_data_boundary(name))
    FUZZ_CHECK(!boundary->empty() && boundary->size() <= 70, "boundary of %zu bytes", boundary->size());

  const std::string safe = sanitize_filename(name, "application/pdf", 64);
  FUZZ_CHECK(!safe.empty() && safe.size() <= 64 && valid_utf8(safe) && plain_name(safe),
             "sanitize_filename '%s'", safe.c_str());
  FUZZ_CHECK(safe[0] != '.' && safe[0] != ' ' && safe.back() != '.' && safe.back() != ' ',
             "sanitize_filename '%s'", safe.c_str());
  FUZZ_CHECK(sanitize_filename(safe, "application/pdf", 64) == safe,
             "sanitize_filename is not idempotent: '%s'", safe.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  for (std::uint64_t body_size : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1000},
                                  std::uint64_t{1} << 40, ~std::uint64_t{0}})
    check_range(in, body_size);
  check_form(in);
  check_names(in);
  return 0;
}
