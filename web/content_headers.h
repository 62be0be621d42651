// web/content_headers.h - the headers that describe a download to a browser.
//
// File names and content types come from inbound mail and are treated as
// arbitrary bytes here even though the milter cleaned them: the output of
// every function is a header value with no CR, LF, NUL or byte >= 0x80, or
// (sanitize_display_name) bounded, single-line, valid UTF-8. Nothing here
// fails: hostile input degrades to a safe default ("download",
// application/octet-stream).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attachgate::web {

// `attachment; filename="<fallback>"; filename*=UTF-8''<encoded>` (RFC 6266,
// RFC 5987). filename* carries sanitize_display_name(filename); the quoted
// fallback is that name in printable ASCII, one '_' per character it cannot
// carry, at most 150 bytes.
std::string content_disposition(std::string_view filename);

// The name as the page shows it and as filename* carries it: invalid UTF-8
// becomes U+FFFD (one per bad byte); C0/C1 controls, DEL, bidi and invisible
// format characters are dropped; '/' and '\' become '_'; leading dots and
// spaces and trailing spaces go; at most 200 code points, keeping a short
// extension; nothing left: "download". Not HTML-escaped.
std::string sanitize_display_name(std::string_view filename);

// The recorded type, lower-cased without parameters, if it is on a short
// list of passive formats people mail, else application/octet-stream.
// Every response is an attachment with nosniff, so the type only helps the
// recipient's OS pick an application; a type a browser renders as active
// content (HTML, SVG, XML, script) must never be echoed from mail, and
// anything not plainly passive is not worth the risk of being wrong about.
std::string response_content_type(std::string_view recorded);

// Name and value of every header each response carries (CSP, nosniff,
// framing, referrer, cross-origin isolation, no caching).
std::vector<std::pair<std::string, std::string>> security_headers();

}  // namespace attachgate::web
