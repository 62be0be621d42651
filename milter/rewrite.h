// milter/rewrite.h - the new body: offloaded parts out, the notice in.
//
// Offloaded parts are removed from their multipart. The notice goes into
// every body text part that can be edited (see text_edit.h); if none can,
// a multipart/alternative notice part is added as the first part. When the
// offloaded part was the whole message, the notice replaces it. Everything
// kept is written from the persistent parse stream, so memory stays flat.
// The caller gets the top-level header changes this implies (every Content-*
// header of the top part, and MIME-Version) for the milter to apply. Text
// parts are edited in memory, so max_text_bytes bounds all of them together;
// parts past it are left alone.
#pragma once

#include <gmime/gmime.h>

#include <string>
#include <vector>

#include "milter/message.h"
#include "milter/scan.h"
#include "milter/spool.h"

namespace attachgate::milter {

struct NoticeText {
  std::string text, html;  // UTF-8; html is a fragment
  std::string boundary;    // for a notice part the rewrite adds
};

Result<std::vector<HeaderChange>> rewrite_message(GMimeMessage* message,
                                                  const std::vector<const Attachment*>& offloaded,
                                                  const std::vector<GMimePart*>& body_texts,
                                                  const NoticeText& notice,
                                                  std::uint64_t max_text_bytes);

// Writes the message's body (everything after the header block), CRLF line
// ends, 7-bit clean, into out.
Status write_body(GMimeMessage* message, Spool& out);

}  // namespace attachgate::milter
