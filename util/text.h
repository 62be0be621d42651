// util/text.h - untrusted text made safe for one medium.
//
// Sender addresses, subjects and filenames come from mail. Before they reach
// a terminal, control characters (ESC sequences can rewrite a screen) and
// invalid UTF-8 are replaced, and the length is bounded. Before they reach a
// page or a notice, invisible and reordering characters go as well.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace attachgate {

// Control characters become U+FFFD-free ASCII escapes ("\x1b"), invalid
// UTF-8 bytes become "\xNN", and text over max_bytes is cut with "...".
std::string terminal_safe(std::string_view text, std::size_t max_bytes = 200);

// True if text is well-formed UTF-8 (no overlongs, no surrogates).
bool valid_utf8(std::string_view text);

// Each byte that does not start a well-formed UTF-8 sequence becomes U+FFFD.
std::string to_valid_utf8(std::string_view text);

// The code point at text[i] (i < text.size()) into cp, returning its
// length. A byte that does not start a well-formed sequence (overlong,
// surrogate, above U+10FFFF, truncated) gives kInvalidCodePoint and length
// 1, so no byte of a bad sequence can pass for an ASCII character.
inline constexpr char32_t kInvalidCodePoint = 0xFFFFFFFF;
std::size_t decode_utf8(std::string_view text, std::size_t i, char32_t& cp);
// Appends cp (at most U+10FFFF) as UTF-8.
void append_utf8(std::string& out, char32_t cp);

// One line of untrusted text for a person to read (a file name, a sender):
//  - each invalid UTF-8 byte, and each U+FFFD an earlier decoder left,
//    becomes `unreadable`;
//  - TAB, CR, LF and Unicode spaces become a space, runs of spaces collapse
//    to one, and trailing spaces go;
//  - other C0/C1 controls and DEL are dropped, and so are bidi controls,
//    zero-width and other invisible format characters, so
//    "invoice\u202Egpj.exe" cannot pose as "invoiceexe.jpg";
//  - the result is cut to at most max_bytes on a character boundary.
std::string clean_display_text(std::string_view text, std::size_t max_bytes = 200,
                               std::string_view unreadable = "_");

// ASCII-only case folding, for the keywords of mail and config (MIME types,
// charsets, header and parameter names); other bytes pass unchanged, so
// UTF-8 text is never damaged.
std::string ascii_lower(std::string_view text);
bool equals_nocase(std::string_view a, std::string_view b);
// Without leading and trailing spaces and tabs (HTTP's "optional whitespace").
std::string_view trim_blanks(std::string_view text);
// Only 0-9 and a-f (ids and hashes as attachgate writes them); false for "".
bool is_lower_hex(std::string_view text);

}  // namespace attachgate
