// milter/quoted_printable.cc - see quoted_printable.h.
#include "milter/quoted_printable.h"

#include <cstring>

namespace attachgate::milter {
namespace {

constexpr int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

constexpr const char* kStrayEquals = "quoted-printable '=' not followed by two hex digits or a line break";

}  // namespace

std::size_t QuotedPrintableDecoder::step(const unsigned char* in, std::size_t n, unsigned char* out) {
  const unsigned char* const end = in + n;
  unsigned char* o = out;
  while (in < end) {
    const unsigned char c = *in++;
    switch (state_) {
      case State::text:
        if (c == '=') {
          state_ = State::equals;
          after_space_ = false;
          continue;
        }
        if ((c == '\r' || c == '\n') && after_space_) doubt("quoted-printable line ends in whitespace");
        after_space_ = c == ' ' || c == '\t';
        *o++ = c;
        continue;
      case State::equals:
        if (c == '\n') {
          state_ = State::text;
        } else if (c == '\r') {
          state_ = State::equals_cr;
        } else if (hex_value(c) >= 0) {
          high_ = static_cast<unsigned char>(hex_value(c));
          state_ = State::hex;
        } else {
          // Once in doubt the bytes are never stored, so any output will do
          // that keeps within max_output(): c is read again as text.
          doubt(kStrayEquals);
          state_ = State::text;
          --in;
        }
        continue;
      case State::hex:
        if (hex_value(c) >= 0) {
          *o++ = static_cast<unsigned char>(high_ << 4 | hex_value(c));
          state_ = State::text;
        } else {
          doubt(kStrayEquals);
          state_ = State::text;
          --in;
        }
        continue;
      case State::equals_cr:
        if (c != '\n') doubt("quoted-printable '=' followed by a bare CR");
        state_ = State::text;
        if (c != '\n') --in;
        continue;
    }
  }
  return static_cast<std::size_t>(o - out);
}

std::size_t QuotedPrintableDecoder::finish(unsigned char*) {
  if (state_ == State::hex || state_ == State::equals_cr) doubt(kStrayEquals);
  if (after_space_) doubt("quoted-printable line ends in whitespace");
  state_ = State::text;
  after_space_ = false;
  return 0;
}

}  // namespace attachgate::milter
