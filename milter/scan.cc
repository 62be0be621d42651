// milter/scan.cc - see scan.h.
#include "milter/scan.h"

#include "milter/filename.h"
#include "util/text.h"

namespace attachgate::milter {
namespace {

std::string lower(const char* s) { return ascii_lower(s ? s : ""); }

std::string mime_type_of(GMimeObject* obj) {
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  if (!ct) return "application/octet-stream";
  return lower(g_mime_content_type_get_media_type(ct)) + "/" +
         lower(g_mime_content_type_get_media_subtype(ct));
}

std::uint64_t size_estimate(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (!content) return 0;
  GMimeStream* stream = g_mime_data_wrapper_get_stream(content);
  gint64 len = stream ? g_mime_stream_length(stream) : 0;
  if (len < 0) return 0;
  auto raw = static_cast<std::uint64_t>(len);
  switch (g_mime_data_wrapper_get_encoding(content)) {
    case GMIME_CONTENT_ENCODING_BASE64:
    case GMIME_CONTENT_ENCODING_UUENCODE:
      return raw / 4 * 3;  // ignores line breaks: errs on the large side
    default:
      return raw;
  }
}

class Walker {
 public:
  Walker(const ScanLimits& limits, Scan& out) : limits_(limits), out_(out) {}

  void walk(GMimeObject* obj, GMimeMultipart* parent, int depth, bool forwarded) {
    if (out_.skip_reason) return;
    if (depth > limits_.max_depth) {
      out_.skip_reason = "MIME nesting deeper than " + std::to_string(limits_.max_depth);
      return;
    }
    if (++parts_ > limits_.max_parts) {
      out_.skip_reason = "more than " + std::to_string(limits_.max_parts) + " MIME parts";
      return;
    }
    const std::string type = mime_type_of(obj);
    if (GMIME_IS_MULTIPART_SIGNED(obj) || GMIME_IS_MULTIPART_ENCRYPTED(obj) ||
        type == "multipart/signed" || type == "multipart/encrypted" ||
        type == "application/pkcs7-mime" || type == "application/x-pkcs7-mime") {
      out_.skip_reason = "signed or encrypted (" + type + ")";
      return;
    }
    if (GMIME_IS_MULTIPART(obj)) {
      auto* mp = GMIME_MULTIPART(obj);
      const int n = g_mime_multipart_get_count(mp);
      for (int i = 0; i < n; ++i) walk(g_mime_multipart_get_part(mp, i), mp, depth + 1, forwarded);
      return;
    }
    if (GMIME_IS_MESSAGE_PART(obj)) {
      GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
      GMimeObject* body = inner ? g_mime_message_get_mime_part(inner) : nullptr;
      // A forwarded message's own top-level attachment has no multipart
      // parent we could remove it from; only nested ones are taken out.
      if (body && GMIME_IS_MULTIPART(body)) walk(body, nullptr, depth + 1, true);
      return;
    }
    if (GMIME_IS_PART(obj)) classify(GMIME_PART(obj), parent, type, forwarded);
  }

 private:
  void classify(GMimePart* part, GMimeMultipart* parent, const std::string& type, bool forwarded) {
    const std::string disposition = lower(g_mime_object_get_disposition(GMIME_OBJECT(part)));
    const char* raw_name = g_mime_part_get_filename(part);
    const bool named = raw_name && *raw_name;
    const bool body_text = (type == "text/plain" || type == "text/html") &&
                           disposition != "attachment" && !named;
    if (body_text) {
      if (!forwarded) out_.body_texts.push_back(part);
      return;
    }
    // Unnamed, non-attachment text (calendar invites and the like) stays.
    if (type.rfind("text/", 0) == 0 && !named && disposition != "attachment") return;
    if (forwarded && !parent) return;
    out_.attachments.push_back(
        Attachment{part, parent, part_filename(GMIME_OBJECT(part)), type, size_estimate(part)});
  }

  const ScanLimits& limits_;
  Scan& out_;
  int parts_ = 0;
};

}  // namespace

Scan scan_message(GMimeMessage* message, const ScanLimits& limits) {
  Scan out;
  GMimeObject* top = g_mime_message_get_mime_part(message);
  if (!top) {
    out.skip_reason = "message has no body part";
    return out;
  }
  Walker(limits, out).walk(top, nullptr, 1, false);
  if (out.skip_reason) {
    out.attachments.clear();
    out.body_texts.clear();
  }
  return out;
}

}  // namespace attachgate::milter
