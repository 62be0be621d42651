// milter/text_edit.h - put the notice into one text/plain or text/html part.
//
// The part is decoded (base64 or quoted-printable), the notice appended (text)
// or inserted before </body> (HTML), and the part re-encoded: base64 stays
// base64, anything else becomes quoted-printable when it is no longer 7-bit
// clean. The charset is kept when the notice can be written in it; when it
// cannot (a "€" in a filename in an ISO-8859-1 part), the whole part is
// converted to UTF-8 rather than garbled. Parts larger than max_bytes, or in
// a charset iconv does not know, are left alone (the caller then adds a
// separate notice part).
#pragma once

#include <gmime/gmime.h>

#include <cstdint>
#include <string_view>

#include "util/result.h"

namespace attachgate::milter {

// notice is UTF-8. Returns an Error (and leaves the part unchanged) when the
// part cannot be edited safely.
Status add_notice_to_part(GMimePart* part, bool html, std::string_view notice,
                          std::uint64_t max_bytes);

}  // namespace attachgate::milter
