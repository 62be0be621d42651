// config/match.cc - glob and address matching for policy rules; see match.h.
//
// Inputs are untrusted mail text. The matcher keeps one backtrack point and
// never recurses, and every function touches each byte a bounded number of
// times, so no subject, filename or address can make matching slow.
#include "config/match.h"

namespace attachgate::config {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Length of the UTF-8 sequence starting at text[i], so `?` stands for one
// character of a decoded filename rather than one byte of it. Malformed
// sequences count byte by byte.
std::size_t char_length(std::string_view text, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  std::size_t n = byte(i) >= 0xF0 ? 4 : byte(i) >= 0xE0 ? 3 : byte(i) >= 0xC0 ? 2 : 1;
  if (i + n > text.size()) return 1;
  for (std::size_t k = 1; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 1;
  return n;
}

}  // namespace

// Greedy match with a single backtrack point: on a mismatch after a `*`, the
// star absorbs one more character. A later `*` supersedes the earlier one,
// which is why one saved position is enough.
bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (p < pattern.size() && pattern[p] == '?') {
      ++p;
      t += char_length(text, t);
    } else if (p < pattern.size() && lower(pattern[p]) == lower(text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool contains_nocase(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  if (needle.size() > haystack.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    std::size_t j = 0;
    while (j < needle.size() && lower(haystack[i + j]) == lower(needle[j])) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

std::string normalize_address(std::string_view address) {
  while (!address.empty() && is_blank(address.front())) address.remove_prefix(1);
  while (!address.empty() && is_blank(address.back())) address.remove_suffix(1);
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>')
    address = address.substr(1, address.size() - 2);
  return ascii_lower(address);
}

std::string address_domain(std::string_view address) {
  std::string a = normalize_address(address);
  std::size_t at = a.rfind('@');
  if (at == std::string::npos) return "";
  std::string domain = a.substr(at + 1);
  if (!domain.empty() && domain.back() == '.') domain.pop_back();
  return domain;
}

}  // namespace attachgate::config
