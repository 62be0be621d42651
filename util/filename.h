// util/filename.h - untrusted file names made safe to store and show.
//
// A name comes from a MIME part (the milter) or an upload (the web API):
// whatever a client or an attacker wrote. sanitize_filename() turns any such
// text into a bounded, single-line name with no path, no hidden-file dot and
// no invisible characters, safe for the catalog, headers and the notice.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace attachgate {

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

}  // namespace attachgate
