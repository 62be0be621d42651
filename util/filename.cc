// util/filename.cc - see filename.h.
//
// The character-level cleaning (invalid UTF-8, controls, invisible and bidi
// characters, whitespace) is util/text.h's clean_display_text(); what is
// added here is what a file name needs beyond that. Every pass is linear in
// the input.
#include "util/filename.h"

#include <array>

#include "util/text.h"

namespace attachgate {
namespace {

// Path separators and what Windows refuses in a name; '"' also keeps the
// name usable inside a quoted header parameter.
bool path_or_reserved(char c) {
  switch (c) {
    case '/': case '\\': case '"': case '*': case ':': case '<': case '>': case '?': case '|':
      return true;
    default:
      return false;
  }
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

}  // namespace

std::string sanitize_filename(std::string_view name, std::string_view mime_type, std::size_t max_bytes) {
  if (max_bytes < 16) max_bytes = 16;
  // The display cleaning first; the characters replaced here are all ASCII,
  // so doing it afterwards cannot change how spaces collapse.
  std::string s = clean_display_text(name, std::string::npos);
  for (char& c : s)
    if (path_or_reserved(c)) c = '_';
  strip_leading(s, true);
  strip_trailing(s, true);
  if (s.empty()) return std::string(utf8_prefix("attachment" + extension_for_type(mime_type), max_bytes));
  if (windows_device_name(s)) s.insert(0, "_");
  if (s.size() > max_bytes) s = cut_keeping_extension(s, max_bytes);
  return s;
}

}  // namespace attachgate
