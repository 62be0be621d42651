// milter/base64.cc - see base64.h.
#include "milter/base64.h"

#include <array>

namespace attachgate::milter {
namespace {

constexpr std::uint32_t kInvalid = 0x80000000u;

constexpr int sextet(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// kShifted[i][c]: character c's sextet placed as the i-th of a group's four,
// or kInvalid; OR-ing four lookups gives the group's 24 bits or a flag.
constexpr std::array<std::array<std::uint32_t, 256>, 4> make_tables() {
  std::array<std::array<std::uint32_t, 256>, 4> t{};
  for (int i = 0; i < 4; ++i)
    for (int c = 0; c < 256; ++c) {
      const int v = sextet(static_cast<unsigned char>(c));
      t[i][c] = v < 0 ? kInvalid : static_cast<std::uint32_t>(v) << (18 - 6 * i);
    }
  return t;
}

constexpr auto kShifted = make_tables();

}  // namespace

std::size_t Base64Decoder::flush_partial(unsigned char* out) {
  std::size_t n = 0;
  if (count_ == 2) {
    out[n++] = static_cast<unsigned char>(bits_ >> 4);
  } else if (count_ == 3) {
    out[n++] = static_cast<unsigned char>(bits_ >> 10);
    out[n++] = static_cast<unsigned char>(bits_ >> 2);
  }
  bits_ = 0;
  count_ = 0;
  return n;
}

std::size_t Base64Decoder::step(const unsigned char* in, std::size_t n, unsigned char* out) {
  const unsigned char* const end = in + n;
  unsigned char* o = out;
  while (in < end) {
    if (count_ == 0 && !ended_) {
      while (end - in >= 4) {
        const std::uint32_t v = kShifted[0][in[0]] | kShifted[1][in[1]] | kShifted[2][in[2]] |
                                kShifted[3][in[3]];
        if (v & kInvalid) break;
        o[0] = static_cast<unsigned char>(v >> 16);
        o[1] = static_cast<unsigned char>(v >> 8);
        o[2] = static_cast<unsigned char>(v);
        o += 3;
        in += 4;
      }
      if (in == end) break;
    }
    const unsigned char c = *in++;
    const int v = sextet(c);
    if (v >= 0) {
      if (ended_ && doubt_ == nullptr) doubt_ = "base64 data after the final padding";
      bits_ = (bits_ << 6) | static_cast<std::uint32_t>(v);
      if (++count_ == 4) {
        o[0] = static_cast<unsigned char>(bits_ >> 16);
        o[1] = static_cast<unsigned char>(bits_ >> 8);
        o[2] = static_cast<unsigned char>(bits_);
        o += 3;
        bits_ = 0;
        count_ = 0;
      }
    } else if (c == '=') {
      if (count_ >= 2) {
        ended_ = true;
      } else if (!ended_ && doubt_ == nullptr) {
        doubt_ = "base64 '=' where no padding can stand";
      }
      o += flush_partial(o);
    }
  }
  return static_cast<std::size_t>(o - out);
}

std::size_t Base64Decoder::finish(unsigned char* out) {
  if (count_ == 1 && doubt_ == nullptr) doubt_ = "base64 ends with a lone character";
  return flush_partial(out);
}

}  // namespace attachgate::milter
