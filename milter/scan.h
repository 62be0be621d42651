// milter/scan.h - find the attachments and the body text of a parsed message.
//
// The walk is bounded: nesting deeper than max_mime_depth or more than
// max_mime_parts parts stops it, and the message is then passed unchanged
// with the reason (we never rewrite what we could not see whole). Signed or
// encrypted mail anywhere in the tree is never modified either. Attachments
// inside a forwarded message/rfc822 are found too; only the outer message's
// own text parts receive the notice.
#pragma once

#include <gmime/gmime.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attachgate::milter {

struct Attachment {
  GMimePart* part = nullptr;          // owned by the message
  GMimeMultipart* parent = nullptr;   // null: the message's top-level part
  std::string filename;               // decoded and sanitised
  std::string mime_type;              // lowercase "type/subtype"
  std::uint64_t size_estimate = 0;    // decoded size, estimated from the encoded length
};

struct Scan {
  std::optional<std::string> skip_reason;
  std::vector<Attachment> attachments;
  std::vector<GMimePart*> body_texts;  // text/plain and text/html body parts
};

struct ScanLimits {
  int max_depth = 32;
  int max_parts = 500;
};

Scan scan_message(GMimeMessage* message, const ScanLimits& limits);

}  // namespace attachgate::milter
