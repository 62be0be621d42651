// milter/filename.h - attachment names from mail, decoded and made safe.
//
// A MIME part's name is whatever the sender's client (or an attacker) wrote:
// RFC 2231 / RFC 2047 encodings, any charset, control and bidi characters,
// path separators, absurd lengths. raw_part_filename() recovers the name as
// the client meant it, always as valid UTF-8; sanitize_filename() turns any
// such text into a bounded, single-line name with no path, no hidden-file dot
// and no invisible characters, safe for the catalog, headers and the notice.
#pragma once

#include <gmime/gmime.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "util/filename.h"
#include "util/text.h"

namespace attachgate::milter {

// The name of a MIME part: the Content-Disposition filename, else the
// Content-Type name, with RFC 2231 and RFC 2047 (also the common quoted
// `filename="=?UTF-8?B?...?="`) decoded and converted to UTF-8 by GMime.
// Bytes GMime could not convert (an unknown or lying charset) become U+FFFD,
// so the result is always valid UTF-8. "" when the part has no name.
// Works on any GMimeObject (a message/rfc822 attachment has names too).
std::string raw_part_filename(GMimeObject* part);

// sanitize_filename() is util/filename.h, named here for the milter.
using attachgate::sanitize_filename;

// sanitize_filename(raw_part_filename(part), part's content type).
std::string part_filename(GMimeObject* part);

// The character-level half of sanitize_filename, for other one-line text
// shown to people (the envelope sender in the notice), is
// attachgate::clean_display_text() in util/text.h, included here for the
// milter's callers.

}  // namespace attachgate::milter
