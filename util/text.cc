// util/text.cc - see text.h.
#include "util/text.h"

#include <cstdio>

namespace attachgate {
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  cp = kInvalidCodePoint;
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

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not valid.
std::size_t utf8_seq(std::string_view s, std::size_t i) {
  char32_t cp;
  std::size_t n = decode_utf8(s, i, cp);
  return cp == kInvalidCodePoint ? 0 : n;
}


// Characters that render as nothing. Each one can hide or reorder what a
// person reads (a right-to-left override turns "gpj.exe" into "exe.jpg").
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

bool control(char32_t cp) { return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0); }

// Longest prefix of s that is at most max_bytes and ends on a character
// boundary (s is valid UTF-8 here).
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower(c);
  return out;
}

bool equals_nocase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = utf8_seq(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp;
    std::size_t n = decode_utf8(text, i, cp);
    if (cp == kInvalidCodePoint) out += "\xEF\xBF\xBD";
    else out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

std::string clean_display_text(std::string_view text, std::size_t max_bytes, std::string_view unreadable) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp;
    i += decode_utf8(text, i, cp);
    if (cp == kInvalidCodePoint || cp == 0xFFFD) {
      out.append(unreadable);
    } else if (unicode_space(cp)) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else if (!control(cp) && !invisible(cp)) {
      append_utf8(out, cp);
    }
  }
  if (out.size() > max_bytes) out.resize(utf8_prefix(out, max_bytes).size());
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string terminal_safe(std::string_view text, std::size_t max_bytes) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (out.size() >= max_bytes) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(text[i]);
    std::size_t n = utf8_seq(text, i);
    bool c1_control = n == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0;
    if (n == 0 || c < 0x20 || c == 0x7F || c1_control) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", n == 0 || n == 1 ? c : static_cast<unsigned char>(text[i + 1]));
      out += esc;
      i += n == 0 ? 1 : n;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
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

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_lower_hex(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace attachgate
