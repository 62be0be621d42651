// milter/uudecode.cc - see uudecode.h.
#include "milter/uudecode.h"

#include <cstring>
#include <string_view>

namespace attachgate::milter {
namespace {

bool blank(std::string_view s) { return s.find_first_not_of(" \t\f") == std::string_view::npos; }

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\f");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\f") - b + 1);
}

// "begin" SP octal-mode SP name, as uuencode writes it.
bool begin_line(std::string_view s) {
  if (s.substr(0, 6) != "begin ") return false;
  s.remove_prefix(6);
  const auto sp = s.find(' ');
  if (sp == 0 || sp == std::string_view::npos) return false;
  for (char c : s.substr(0, sp))
    if (c < '0' || c > '7') return false;
  return true;
}

constexpr bool uu_char(unsigned char c) { return c >= 0x20 && c <= 0x60; }
constexpr unsigned uu_value(unsigned char c) { return (c - 0x20u) & 0x3fu; }

}  // namespace

std::size_t UudecodeDecoder::line(unsigned char* out) {
  std::size_t n = len_;
  if (n > 0 && line_[n - 1] == '\r') --n;
  const std::string_view text(reinterpret_cast<const char*>(line_), n);
  const bool long_line = too_long_;
  len_ = 0;
  too_long_ = false;
  switch (state_) {
    case State::before_begin:
      if (!long_line && begin_line(text)) state_ = State::data;
      else if (long_line || !blank(text)) doubt("uuencode text before the begin line");
      return 0;
    case State::after_end:
      if (long_line || !blank(text)) doubt("uuencode text after the end line");
      return 0;
    case State::after_zero:
    case State::data:
      break;
  }
  if (!long_line && trim(text) == "end") {
    state_ = State::after_end;
    return 0;
  }
  if (long_line || text.empty()) {
    doubt(long_line ? "uuencode line too long" : "uuencode blank line inside the data");
    return 0;
  }
  if (state_ == State::after_zero) {
    doubt("uuencode data after the zero-length line");
    return 0;
  }
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  if (!uu_char(p[0])) {
    doubt("uuencode character out of range");
    return 0;
  }
  const std::size_t bytes = uu_value(p[0]);
  if (bytes == 0) {
    state_ = State::after_zero;
    return 0;
  }
  // Python and uudecode read ceil(4 * bytes / 3) characters; the rest of
  // the group the encoder wrote carries zero bits (' ' or '`').
  const std::size_t need = (bytes * 4 + 2) / 3;
  if (text.size() - 1 < need) {
    doubt("uuencode line shorter than its length character says");
    return 0;
  }
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (!uu_char(p[i]) || (i > need && uu_value(p[i]) != 0)) {
      doubt("uuencode character out of range");
      return 0;
    }
  }
  std::size_t o = 0;
  for (std::size_t i = 1; o < bytes; i += 4) {
    const unsigned v0 = uu_value(p[i]), v1 = i + 1 <= need ? uu_value(p[i + 1]) : 0,
                   v2 = i + 2 <= need ? uu_value(p[i + 2]) : 0, v3 = i + 3 <= need ? uu_value(p[i + 3]) : 0;
    const unsigned bits = v0 << 18 | v1 << 12 | v2 << 6 | v3;
    out[o++] = static_cast<unsigned char>(bits >> 16);
    if (o < bytes) out[o++] = static_cast<unsigned char>(bits >> 8);
    if (o < bytes) out[o++] = static_cast<unsigned char>(bits);
  }
  return o;
}

std::size_t UudecodeDecoder::step(const unsigned char* in, std::size_t n, unsigned char* out) {
  std::size_t o = 0;
  for (const unsigned char* const end = in + n; in < end;) {
    const void* nl = std::memchr(in, '\n', static_cast<std::size_t>(end - in));
    const unsigned char* stop = nl ? static_cast<const unsigned char*>(nl) : end;
    const std::size_t take = static_cast<std::size_t>(stop - in);
    if (too_long_ || len_ + take > kMaxLine) {
      too_long_ = true;
    } else {
      std::memcpy(line_ + len_, in, take);
      len_ += take;
    }
    in = stop;
    if (nl) {
      o += line(out + o);
      ++in;
    }
  }
  return o;
}

std::size_t UudecodeDecoder::finish(unsigned char* out) {
  std::size_t o = 0;
  if (len_ > 0 || too_long_) o = line(out);
  if (state_ != State::after_end) doubt("uuencode without its end line");
  return o;
}

}  // namespace attachgate::milter
