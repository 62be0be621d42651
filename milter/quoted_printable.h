// milter/quoted_printable.h - a streaming quoted-printable decoder for
// attachment bodies (RFC 2045 6.7).
//
// Input is untrusted and may be split anywhere, even between '=' and its two
// hex digits or inside a soft line break. Well-formed input decodes as every
// mail client decodes it: "=XX" in either case is a byte, '=' before a line
// break (CRLF or bare LF) or at the very end is a soft break and yields
// nothing, every other byte is copied. Where clients part ways, doubt() says
// so and the milter keeps the attachment in the mail: a '=' not followed by
// two hex digits or a line break (Python copies it, others drop it or the
// rest of the line), and whitespace before a line break, which RFC 2045 says
// to delete and Python's email keeps.
#pragma once

#include <cstddef>
#include <cstdint>

namespace attachgate::milter {

class QuotedPrintableDecoder {
 public:
  // The most bytes step() can write for n input bytes.
  static constexpr std::size_t max_output(std::size_t n) { return n; }

  // Decodes n bytes; returns the number written to out (at most n).
  std::size_t step(const unsigned char* in, std::size_t n, unsigned char* out);

  // The end of the part: a pending '=' is a soft break at the end.
  std::size_t finish(unsigned char* out);

  // Null while every mail client would decode the input seen so far to the
  // same bytes; otherwise why not.
  const char* doubt() const { return doubt_; }

 private:
  enum class State : std::uint8_t { text, equals, hex, equals_cr };
  void doubt(const char* why) {
    if (doubt_ == nullptr) doubt_ = why;
  }

  State state_ = State::text;
  unsigned char high_ = 0;     // the first hex digit's value, in State::hex
  bool after_space_ = false;   // the last text byte was a space or tab
  const char* doubt_ = nullptr;
};

}  // namespace attachgate::milter
