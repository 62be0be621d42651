// milter/uudecode.h - a streaming decoder for x-uuencode attachment bodies.
//
// The body is "begin <octal mode> <name>", data lines whose first character
// gives their length (up to 63 bytes in 84 characters, ' ' or '`' for
// zero), an optional zero-length line, then "end". Input is untrusted and
// may be split anywhere; lines are read whole, up to kMaxLine characters.
// Only what every client reads the same is sure: no "begin" line, no "end"
// line, a short or over-long data line, a character outside ' '..'`', data
// after the zero-length line, or text after "end" set doubt(), and the milter
// keeps the attachment in the mail. Blank lines may come before "begin".
#pragma once

#include <cstddef>
#include <cstdint>

namespace attachgate::milter {

class UudecodeDecoder {
 public:
  static constexpr std::size_t kMaxLine = 256;

  // The most bytes step() can write for n input bytes: one line held over
  // from earlier input ends in this one.
  static constexpr std::size_t max_output(std::size_t n) { return n + 64; }

  // Decodes n bytes; returns the number written to out.
  std::size_t step(const unsigned char* in, std::size_t n, unsigned char* out);

  // The end of the part: a last line without its line break is read too.
  std::size_t finish(unsigned char* out);

  // Null while every mail client would decode the input seen so far to the
  // same bytes; otherwise why not. Only final after finish().
  const char* doubt() const { return doubt_; }

 private:
  enum class State : std::uint8_t { before_begin, data, after_zero, after_end };
  std::size_t line(unsigned char* out);  // handles line_[0, len_)
  void doubt(const char* why) {
    if (doubt_ == nullptr) doubt_ = why;
  }

  State state_ = State::before_begin;
  unsigned char line_[kMaxLine];
  std::size_t len_ = 0;
  bool too_long_ = false;
  const char* doubt_ = nullptr;
};

}  // namespace attachgate::milter
