// milter/filename.cc - see filename.h.
//
// Names are walked one code point at a time so that a multibyte character is
// kept or dropped whole; what happens to each character is decided in one
// place, classify(). Input is bounded only by GMime's header handling, and
// every pass here is linear in it.
#include "milter/filename.h"

#include <array>
#include <memory>

#include "util/text.h"

namespace attachgate::milter {
namespace {

constexpr char32_t kInvalid = 0xFFFFFFFF;

// Decodes the UTF-8 sequence at s[i] into cp and returns its length; a byte
// that does not start a well-formed sequence (overlong, surrogate, above
// U+10FFFF, truncated) yields kInvalid and length 1.
std::size_t decode(std::string_view s, std::size_t i, char32_t& cp) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  cp = kInvalid;
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  std::size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
  if (n == 0 || c > 0xF4 || i + n > s.size()) return 1;
  char32_t v = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 1;
    v = (v << 6) | (b(i + k) & 0x3F);
  }
  bool overlong = (n == 3 && v < 0x800) || (n == 4 && v < 0x10000);
  if (overlong || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) return 1;
  cp = v;
  return n;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Characters that render as nothing. Each one can hide or reorder what a
// person reads (a right-to-left override turns "gpj.exe" into "exe.jpg"),
// and none belongs in a file name.
bool invisible(char32_t cp) {
  return cp == 0x00AD                        // soft hyphen
         || cp == 0x034F                     // combining grapheme joiner
         || cp == 0x061C                     // Arabic letter mark
         || cp == 0x115F || cp == 0x1160     // Hangul fillers render blank
         || cp == 0x3164 || cp == 0xFFA0     //
         || cp == 0x180E                     // Mongolian vowel separator
         || (cp >= 0x200B && cp <= 0x200F)   // zero-width space/joiners, LRM, RLM
         || (cp >= 0x202A && cp <= 0x202E)   // bidi embeddings and overrides
         || (cp >= 0x2060 && cp <= 0x206F)   // word joiner, bidi isolates, invisible operators
         || cp == 0xFEFF                     // zero-width no-break space (BOM)
         || (cp >= 0xFFF9 && cp <= 0xFFFB)   // interlinear annotation controls
         || (cp >= 0xE0000 && cp <= 0xE007F);  // tag characters
}

bool unicode_space(char32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
         cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Path separators and what Windows refuses in a name; '"' also keeps the
// name usable inside a quoted header parameter.
bool path_or_reserved(char32_t cp) {
  switch (cp) {
    case '/': case '\\': case '"': case '*': case ':': case '<': case '>': case '?': case '|':
      return true;
    default:
      return false;
  }
}

enum class Action { kKeep, kDrop, kSpace, kUnderscore };

Action classify(char32_t cp, bool filename) {
  // U+FFFD is what an earlier decoder made of bytes it could not read; as a
  // file name it is as useless as the bytes themselves.
  if (cp == kInvalid || cp == 0xFFFD) return Action::kUnderscore;
  if (unicode_space(cp)) return Action::kSpace;
  if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0)) return Action::kDrop;
  if (invisible(cp)) return Action::kDrop;
  if (filename && path_or_reserved(cp)) return Action::kUnderscore;
  return Action::kKeep;
}

// The character pass shared by both public cleaners; no length bound yet.
std::string clean_chars(std::string_view text, bool filename) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp;
    i += decode(text, i, cp);
    switch (classify(cp, filename)) {
      case Action::kKeep: append_utf8(out, cp); break;
      case Action::kDrop: break;
      case Action::kUnderscore: out += '_'; break;
      case Action::kSpace:
        if (!out.empty() && out.back() != ' ') out += ' ';
        break;
    }
  }
  return out;
}

bool is_edge_char(char c, bool dots) { return c == ' ' || (dots && c == '.'); }

void strip_trailing(std::string& s, bool dots) {
  while (!s.empty() && is_edge_char(s.back(), dots)) s.pop_back();
}

void strip_leading(std::string& s, bool dots) {
  std::size_t n = 0;
  while (n < s.size() && is_edge_char(s[n], dots)) ++n;
  s.erase(0, n);
}

// Longest prefix of s that is at most max_bytes and ends on a character
// boundary (s is valid UTF-8 here).
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}


// Windows will not create a file whose name before the first dot is a device.
bool windows_device_name(std::string_view s) {
  std::string_view stem = s.substr(0, s.find('.'));
  while (!stem.empty() && stem.back() == ' ') stem.remove_suffix(1);
  for (std::string_view dev : {"CON", "PRN", "AUX", "NUL"})
    if (equals_nocase(stem, dev)) return true;
  if (stem.size() == 4 && (equals_nocase(stem.substr(0, 3), "COM") || equals_nocase(stem.substr(0, 3), "LPT")))
    return stem[3] >= '0' && stem[3] <= '9';
  return false;
}

// A short, dot-led suffix without spaces is worth keeping when a name is cut:
// it is what tells the recipient (and their OS) what the file is.
constexpr std::size_t kMaxExtension = 16;

std::string cut_keeping_extension(const std::string& s, std::size_t max_bytes) {
  std::size_t dot = s.rfind('.');
  std::string_view ext;
  if (dot != std::string::npos && dot > 0 && s.size() - dot >= 2 && s.size() - dot <= kMaxExtension &&
      s.size() - dot <= max_bytes / 2 && s.find(' ', dot) == std::string::npos)
    ext = std::string_view(s).substr(dot);
  std::string_view stem_all = std::string_view(s).substr(0, ext.empty() ? s.size() : dot);
  std::string stem(utf8_prefix(stem_all, max_bytes - ext.size()));
  strip_trailing(stem, true);
  return stem + std::string(ext);
}

std::string extension_for_type(std::string_view mime_type) {
  std::string_view t = mime_type.substr(0, mime_type.find(';'));
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 22> kTable{{
      {"application/pdf", ".pdf"},
      {"application/zip", ".zip"},
      {"application/gzip", ".gz"},
      {"application/msword", ".doc"},
      {"application/vnd.ms-excel", ".xls"},
      {"application/vnd.ms-powerpoint", ".ppt"},
      {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"},
      {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"},
      {"application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx"},
      {"application/vnd.oasis.opendocument.text", ".odt"},
      {"application/vnd.oasis.opendocument.spreadsheet", ".ods"},
      {"image/jpeg", ".jpg"},
      {"image/png", ".png"},
      {"image/gif", ".gif"},
      {"image/webp", ".webp"},
      {"text/plain", ".txt"},
      {"text/csv", ".csv"},
      {"text/html", ".html"},
      {"text/calendar", ".ics"},
      {"message/rfc822", ".eml"},
      {"audio/mpeg", ".mp3"},
      {"video/mp4", ".mp4"},
  }};
  for (const auto& [type, ext] : kTable)
    if (equals_nocase(t, type)) return std::string(ext);
  return {};
}

std::string to_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp;
    std::size_t n = decode(s, i, cp);
    if (cp == kInvalid) out += "\xEF\xBF\xBD";
    else out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace

std::string clean_display_text(std::string_view text, std::size_t max_bytes) {
  std::string s = clean_chars(text, false);
  if (s.size() > max_bytes) s = std::string(utf8_prefix(s, max_bytes));
  strip_trailing(s, false);
  return s;
}

std::string sanitize_filename(std::string_view name, std::string_view mime_type, std::size_t max_bytes) {
  if (max_bytes < 16) max_bytes = 16;
  std::string s = clean_chars(name, true);
  strip_leading(s, true);
  strip_trailing(s, true);
  if (s.empty()) return std::string(utf8_prefix("attachment" + extension_for_type(mime_type), max_bytes));
  if (windows_device_name(s)) s.insert(0, "_");
  if (s.size() > max_bytes) s = cut_keeping_extension(s, max_bytes);
  return s;
}

std::string raw_part_filename(GMimeObject* part) {
  if (part == nullptr) return {};
  // GMime decodes RFC 2231 and RFC 2047 (quoted or not) in both parameters
  // and converts declared charsets to UTF-8; an undeclared or unknown charset
  // can still leave raw bytes, hence to_valid_utf8.
  const char* value = g_mime_object_get_content_disposition_parameter(part, "filename");
  if (value == nullptr || *value == '\0') value = g_mime_object_get_content_type_parameter(part, "name");
  if (value == nullptr) return {};
  return to_valid_utf8(value);
}

std::string part_filename(GMimeObject* part) {
  std::string type;
  if (part != nullptr) {
    if (GMimeContentType* ct = g_mime_object_get_content_type(part)) {
      std::unique_ptr<char, decltype(&g_free)> mime(g_mime_content_type_get_mime_type(ct), &g_free);
      if (mime) type = mime.get();
    }
  }
  return sanitize_filename(raw_part_filename(part), type);
}

}  // namespace attachgate::milter
