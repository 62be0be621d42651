// milter/base64.h - a streaming base64 decoder for attachment bodies.
//
// GMime's decoder takes one table lookup and a branch per input byte, and
// decoding was the largest user-space cost of the milter (bench/analysis.md).
// This one decodes whole 4-character groups with four table lookups and a
// single check, and falls back to one character at a time only around line
// breaks, padding and junk. Input is untrusted and decoded leniently, the way
// mail clients do (RFC 2045 6.8): characters outside the alphabet are
// skipped, '=' ends a group early (so concatenated encodings decode whole),
// and a last group of one character is dropped. Well-formed input decodes to
// exactly what GMime produces.
//
// Where mail clients part ways on malformed input, doubt() says so: data
// after the final padding (Python's email stops there, this decoder goes
// on), '=' where no padding can stand, and a lone last character (Python
// returns the encoded text). The milter then keeps such an attachment in
// the mail rather than store bytes a recipient's client might not show.
#pragma once

#include <cstddef>
#include <cstdint>

namespace attachgate::milter {

class Base64Decoder {
 public:
  // The most bytes step() can write for n input bytes.
  static constexpr std::size_t max_output(std::size_t n) { return n / 4 * 3 + 3; }

  // Decodes n bytes, which may split groups anywhere; returns the number of
  // bytes written to out (at most max_output(n)).
  std::size_t step(const unsigned char* in, std::size_t n, unsigned char* out);

  // Writes what an unpadded last group holds (0 to 2 bytes) and resets.
  std::size_t finish(unsigned char* out);

  // Null while every mail client would decode the input seen so far to the
  // same bytes; otherwise why not. Valid after finish() too.
  const char* doubt() const { return doubt_; }

 private:
  std::size_t flush_partial(unsigned char* out);

  std::uint32_t bits_ = 0;  // the sextets of the group so far
  int count_ = 0;           // how many: 0 to 3
  bool ended_ = false;      // final padding seen
  const char* doubt_ = nullptr;
};

}  // namespace attachgate::milter
