// web/content_headers.cc - see content_headers.h.
//
// The name is cleaned once, as code points, and both the quoted fallback and
// filename* are derived from that one cleaned name, so the page, the
// fallback and filename* can never disagree about what the file is called.
#include "web/content_headers.h"

#include <array>
#include <cstddef>
#include <cstdint>

#include "util/text.h"

namespace attachgate::web {
namespace {

constexpr std::size_t kMaxNameCodePoints = 200;
constexpr std::size_t kMaxFallbackBytes = 150;
constexpr std::size_t kMaxExtension = 16;  // with its dot; longer is not an extension
constexpr char32_t kReplacement = 0xFFFD;
constexpr const char* kEmptyName = "download";

// The code point at s[i] and its length; an invalid byte is U+FFFD of
// length 1, so no byte of a bad sequence can smuggle in an ASCII character.
std::pair<char32_t, std::size_t> decode_at(std::string_view s, std::size_t i) {
  char32_t cp;
  std::size_t n = decode_utf8(s, i, cp);
  return {cp == kInvalidCodePoint ? kReplacement : cp, n};
}

bool control(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp < 0xA0); }

// Characters that change how the rest of a name looks (bidi overrides turn
// "invoice\u202Efdp.exe" into "invoiceexe.pdf") or break a line without
// being a control, and characters that are not there to the eye.
bool invisible(char32_t cp) {
  return cp == 0x00AD || cp == 0x061C || (cp >= 0x200B && cp <= 0x200F) ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF ||
         (cp >= 0xFFF9 && cp <= 0xFFFB);
}

// Cuts s to max characters; if it had an extension (".pdf"), the cut comes
// out of the stem so the file still opens with the right application.
template <class Str>
void truncate_keeping_extension(Str& s, std::size_t max) {
  if (s.size() <= max) return;
  auto dot = s.rfind(static_cast<typename Str::value_type>('.'));
  std::size_t ext = dot == Str::npos ? 0 : s.size() - dot;
  if (dot == Str::npos || dot == 0 || ext > kMaxExtension || ext >= max) {
    s.resize(max);
    return;
  }
  s = s.substr(0, max - ext) + s.substr(dot);
}

std::u32string clean_name(std::string_view filename) {
  std::u32string name;
  for (std::size_t i = 0; i < filename.size();) {
    auto [cp, len] = decode_at(filename, i);
    i += len;
    if (control(cp) || invisible(cp)) continue;
    if (cp == '/' || cp == '\\') cp = '_';
    // A leading dot hides the file (or, with '/', walks up a directory).
    if (name.empty() && (cp == '.' || cp == ' ')) continue;
    name += cp;
  }
  while (!name.empty() && name.back() == ' ') name.pop_back();
  truncate_keeping_extension(name, kMaxNameCodePoints);
  if (name.empty())
    for (char c : std::string_view(kEmptyName)) name += static_cast<char32_t>(c);
  return name;
}

std::string to_utf8(const std::u32string& name) {
  std::string out;
  for (char32_t cp : name) append_utf8(out, cp);
  return out;
}

// Inside a quoted-string only '"' and '\' are special, but ';' and '%'
// confuse naive parsers and some browsers percent-decode the fallback.
bool fallback_char(char32_t cp) {
  if (cp < 0x20 || cp > 0x7E) return false;
  return cp != '"' && cp != '\\' && cp != '/' && cp != '%' && cp != ';';
}

std::string ascii_fallback(const std::u32string& name) {
  std::string out;
  for (char32_t cp : name) {
    if (out.empty() && (cp == '.' || cp == ' ')) continue;
    out += fallback_char(cp) ? static_cast<char>(cp) : '_';
  }
  truncate_keeping_extension(out, kMaxFallbackBytes);
  if (out.empty()) out = kEmptyName;
  return out;
}

// RFC 5987 attr-char.
bool attr_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '&': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

std::string percent_encode(std::string_view utf8) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : utf8) {
    auto c = static_cast<unsigned char>(ch);
    if (attr_char(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

constexpr std::array<std::string_view, 11> kPassiveTypes = {
    "application/pdf",
    "application/zip",
    "image/png",
    "image/jpeg",
    "image/gif",
    "text/plain",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/msword",
    "application/vnd.ms-excel",
};

}  // namespace

std::string sanitize_display_name(std::string_view filename) { return to_utf8(clean_name(filename)); }

std::string content_disposition(std::string_view filename) {
  std::u32string name = clean_name(filename);
  return "attachment; filename=\"" + ascii_fallback(name) + "\"; filename*=UTF-8''" +
         percent_encode(to_utf8(name));
}

std::string response_content_type(std::string_view recorded) {
  std::string_view type = recorded.substr(0, recorded.find(';'));
  std::string folded = ascii_lower(trim_blanks(type));
  for (std::string_view passive : kPassiveTypes)
    if (folded == passive) return folded;
  return "application/octet-stream";
}

std::vector<std::pair<std::string, std::string>> security_headers() {
  return {
      {"Content-Security-Policy",
       "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
      {"Cache-Control", "no-store"},
  };
}

}  // namespace attachgate::web
