// tests/milter/decoder_harness.h - drive a streaming transfer decoder
// (base64, quoted-printable, uudecode) over text cut into pieces, checking
// on every step that the output stays within the decoder's max_output().
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace attachgate::milter::testing {

struct Decoded {
  std::string bytes;
  const char* doubt = nullptr;
};

// Pieces of the given sizes, cycled; a guard byte after the allowed output.
template <class D>
Decoded decode_in_pieces(const std::string& text, const std::vector<std::size_t>& sizes) {
  D d;
  Decoded out;
  std::size_t pos = 0, k = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  while (pos < text.size()) {
    std::size_t n = std::min(sizes[k++ % sizes.size()], text.size() - pos);
    std::vector<unsigned char> buf(D::max_output(n) + 1, 0xA5);
    std::size_t got = d.step(in + pos, n, buf.data());
    EXPECT_LE(got, D::max_output(n));
    EXPECT_EQ(buf.back(), 0xA5) << "wrote past max_output";
    out.bytes.append(reinterpret_cast<char*>(buf.data()), got);
    pos += n;
  }
  std::vector<unsigned char> tail(D::max_output(0) + 1, 0xA5);
  std::size_t got = d.finish(tail.data());
  EXPECT_LE(got, D::max_output(0));
  EXPECT_EQ(tail.back(), 0xA5) << "finish wrote past max_output(0)";
  out.bytes.append(reinterpret_cast<char*>(tail.data()), got);
  out.doubt = d.doubt();
  return out;
}

template <class D>
Decoded decode_whole(const std::string& text) {
  return decode_in_pieces<D>(text, {text.size() + 1});
}

// The cuts every decoder is tried with: single bytes, odd primes, and the
// sizes the milter reads in.
inline const std::vector<std::vector<std::size_t>>& standard_splits() {
  static const std::vector<std::vector<std::size_t>> s = {{1}, {2}, {3}, {5}, {7, 1, 13}, {64}, {4096}, {65536}};
  return s;
}

inline std::string random_bytes(std::mt19937& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

}  // namespace attachgate::milter::testing
