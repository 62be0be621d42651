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

#include "util/text.h"

namespace attachgate::milter {

// The name of a MIME part: the Content-Disposition filename, else the
// Content-Type name, with RFC 2231 and RFC 2047 (also the common quoted
// `filename="=?UTF-8?B?...?="`) decoded and converted to UTF-8 by GMime.
// Bytes GMime could not convert (an unknown or lying charset) become U+FFFD,
// so the result is always valid UTF-8. "" when the part has no name.
// Works on any GMimeObject (a message/rfc822 attachment has names too).
std::string raw_part_filename(GMimeObject* part);

// Makes an untrusted name safe to store and show:
//  - invalid UTF-8 bytes and U+FFFD become '_' (one per byte / character);
//  - TAB, CR, LF and Unicode spaces become a space, other C0/C1 controls and
//    DEL are dropped, and runs of spaces collapse to one;
//  - bidi controls, zero-width and other invisible format characters are
//    dropped, so "invoice\u202Egpj.exe" cannot pose as "invoiceexe.jpg";
//  - '/', '\\' and the characters Windows refuses ("*:<>?|) become '_';
//  - leading and trailing dots and spaces are stripped, and a Windows device
//    name ("CON.txt", "nul") gets a leading '_';
//  - at most max_bytes bytes (values below 16 count as 16), cut on a UTF-8
//    character boundary, keeping a short extension when the name is cut;
//  - nothing left: "attachment", plus an extension for a few common
//    mime_type values ("application/pdf" -> "attachment.pdf").
std::string sanitize_filename(std::string_view name, std::string_view mime_type = {},
                              std::size_t max_bytes = 200);

// sanitize_filename(raw_part_filename(part), part's content type).
std::string part_filename(GMimeObject* part);

// The character-level half of sanitize_filename, for other one-line text
// shown to people (the envelope sender in the notice), is
// attachgate::clean_display_text() in util/text.h, included here for the
// milter's callers.

}  // namespace attachgate::milter
