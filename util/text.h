// util/text.h - untrusted text made safe for one medium.
//
// Sender addresses, subjects and filenames come from mail. Before they reach
// a terminal, control characters (ESC sequences can rewrite a screen) and
// invalid UTF-8 are replaced, and the length is bounded.
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

// ASCII-only case folding, for the keywords of mail and config (MIME types,
// charsets, header and parameter names); other bytes pass unchanged, so
// UTF-8 text is never damaged.
std::string ascii_lower(std::string_view text);
bool equals_nocase(std::string_view a, std::string_view b);

}  // namespace attachgate
