// milter/rewrite.cc - see rewrite.h.
#include "milter/rewrite.h"

#include <unistd.h>

#include <unordered_map>

#include "milter/gobject_ptr.h"
#include "milter/text_edit.h"
#include "milter/transfer_encoding.h"
#include "util/text.h"

namespace attachgate::milter {
namespace {

std::string header_value(GMimeObject* obj, const char* name) {
  const char* v = g_mime_object_get_header(obj, name);
  return v ? v : "";
}

// Makes the rewritten message 7-bit clean, but leaves a part whose
// Content-Transfer-Encoding is in doubt as it came: GMime takes an unknown
// encoding for none and would wrap the part in base64, changing what a
// client that knows the encoding (x-gzip64, say) reads from a part the log
// says was kept unchanged.
void encode_7bit_clean(GMimeObject* obj) {
  if (GMIME_IS_MULTIPART(obj)) {
    GMimeMultipart* multipart = GMIME_MULTIPART(obj);
    for (int i = 0, n = g_mime_multipart_get_count(multipart); i < n; ++i)
      encode_7bit_clean(g_mime_multipart_get_part(multipart, i));
    return;
  }
  if (GMIME_IS_MESSAGE_PART(obj)) {
    if (GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj)))
      if (GMimeObject* body = g_mime_message_get_mime_part(inner)) encode_7bit_clean(body);
    return;
  }
  if (std::holds_alternative<EncodingDoubt>(transfer_encoding_of(obj))) return;
  g_mime_object_encode(obj, GMIME_ENCODING_CONSTRAINT_7BIT);
}

GPtr<GMimeObject> text_part(const char* subtype, const std::string& content) {
  auto part = adopt(g_mime_text_part_new_with_subtype(subtype));
  g_mime_text_part_set_charset(part.get(), "utf-8");
  auto stream = adopt(g_mime_stream_mem_new_with_buffer(content.data(), content.size()));
  auto wrapper = adopt(g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(GMIME_PART(part.get()), wrapper.get());
  g_mime_part_set_content_encoding(GMIME_PART(part.get()), GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
  return GPtr<GMimeObject>(GMIME_OBJECT(part.release()));
}

GPtr<GMimeObject> notice_part(const NoticeText& notice) {
  auto alt = adopt(g_mime_multipart_new_with_subtype("alternative"));
  g_mime_multipart_set_boundary(alt.get(), notice.boundary.c_str());
  auto text = text_part("plain", notice.text);
  auto html = text_part("html", "<!DOCTYPE html>\n<html><body>\n" + notice.html + "</body></html>\n");
  g_mime_multipart_add(alt.get(), text.get());
  g_mime_multipart_add(alt.get(), html.get());
  return GPtr<GMimeObject>(GMIME_OBJECT(alt.release()));
}

// The Content-* headers of a top part, first occurrence of each name, in
// order, with an index by lowercased name: the header block is untrusted and
// may hold thousands of them, so nothing here is quadratic.
struct ContentHeaders {
  std::vector<std::pair<std::string, std::string>> in_order;  // name, value
  std::unordered_map<std::string, std::size_t> by_name;         // lowercased name -> index

  const std::string* find(const std::string& name) const {
    auto it = by_name.find(ascii_lower(name));
    return it == by_name.end() ? nullptr : &in_order[it->second].second;
  }
};

// The Content-* headers of the message's top part (they live in the
// message's own header block, so the milter must change them there).
ContentHeaders content_headers(GMimeObject* top) {
  ContentHeaders out;
  GMimeHeaderList* list = g_mime_object_get_header_list(top);
  const int n = list ? g_mime_header_list_get_count(list) : 0;
  for (int i = 0; i < n; ++i) {
    GMimeHeader* header = g_mime_header_list_get_header_at(list, i);
    const char* name = g_mime_header_get_name(header);
    if (!name || g_ascii_strncasecmp(name, "Content-", 8) != 0) continue;
    if (!out.by_name.emplace(ascii_lower(name), out.in_order.size()).second) continue;
    const char* value = g_mime_header_get_value(header);
    out.in_order.emplace_back(name, value ? value : "");
  }
  return out;
}

// Header changes that turn the old top part's Content-* headers into the
// new one's: a replaced top part must not keep, say, the offloaded file's
// Content-Disposition, or clients would show the notice as that attachment.
void diff_content_headers(const ContentHeaders& before, GMimeObject* now, std::vector<HeaderChange>& changes) {
  const ContentHeaders after = content_headers(now);
  for (const auto& [name, value] : before.in_order) {
    const std::string* now_value = after.find(name);
    if (!now_value) changes.push_back({HeaderChange::Op::remove, name, ""});
    else if (*now_value != value) changes.push_back({HeaderChange::Op::change, name, *now_value});
  }
  for (const auto& [name, value] : after.in_order)
    if (!before.find(name)) changes.push_back({HeaderChange::Op::add, name, value});
}

// Encoded size of a part's content, as stored in the spool.
std::uint64_t encoded_size(GMimePart* part) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  GMimeStream* raw = content ? g_mime_data_wrapper_get_stream(content) : nullptr;
  const gint64 len = raw ? g_mime_stream_length(raw) : 0;
  return len > 0 ? static_cast<std::uint64_t>(len) : 0;
}

bool is_html(GMimePart* part) {
  GMimeContentType* ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
  return ct && g_mime_content_type_is_type(ct, "text", "html");
}

}  // namespace

Result<std::vector<HeaderChange>> rewrite_message(GMimeMessage* message,
                                                  const std::vector<const Attachment*>& offloaded,
                                                  const std::vector<GMimePart*>& body_texts,
                                                  const NoticeText& notice,
                                                  std::uint64_t max_text_bytes) {
  GMimeObject* top = g_mime_message_get_mime_part(message);
  const ContentHeaders content_before = content_headers(top);
  const std::string mime_version = header_value(GMIME_OBJECT(message), "MIME-Version");

  bool replaced_top = false;
  for (const Attachment* a : offloaded) {
    if (a->parent) {
      g_mime_multipart_remove(a->parent, GMIME_OBJECT(a->part));
    } else {
      // The attachment was the whole message: the notice becomes the body.
      auto part = notice_part(notice);
      g_mime_message_set_mime_part(message, part.get());
      replaced_top = true;
    }
  }

  int edited = 0;
  if (!replaced_top) {
    // Edited parts are held in memory until written: bound them together.
    std::uint64_t budget = max_text_bytes;
    for (GMimePart* part : body_texts) {
      const std::uint64_t size = encoded_size(part);
      if (size > budget) continue;
      const bool html = is_html(part);
      if (add_notice_to_part(part, html, html ? notice.html : notice.text, budget)) {
        ++edited;
        budget -= size;
      }
    }
    if (edited == 0) {
      GMimeObject* cur = g_mime_message_get_mime_part(message);
      auto part = notice_part(notice);
      // Only in multipart/mixed is a new first part shown alongside the rest:
      // in multipart/alternative it would be the least preferred version, in
      // multipart/related it would become the root. Anything else is wrapped.
      GMimeContentType* ct = g_mime_object_get_content_type(cur);
      if (GMIME_IS_MULTIPART(cur) && ct && g_mime_content_type_is_type(ct, "multipart", "mixed")) {
        g_mime_multipart_insert(GMIME_MULTIPART(cur), 0, part.get());
      } else {
        auto mixed = adopt(g_mime_multipart_new_with_subtype("mixed"));
        g_mime_multipart_set_boundary(mixed.get(), (notice.boundary + "_m").c_str());
        g_mime_multipart_add(mixed.get(), part.get());
        g_mime_multipart_add(mixed.get(), cur);
        g_mime_message_set_mime_part(message, GMIME_OBJECT(mixed.get()));
      }
    }
  }

  GMimeObject* now = g_mime_message_get_mime_part(message);
  encode_7bit_clean(now);
  std::vector<HeaderChange> changes;
  diff_content_headers(content_before, now, changes);
  if (!changes.empty() && mime_version.empty())
    changes.push_back({HeaderChange::Op::add, "MIME-Version", "1.0"});
  return changes;
}

Status write_body(GMimeMessage* message, Spool& out) {
  GMimeObject* top = g_mime_message_get_mime_part(message);
  GMimeFormatOptions* options = g_mime_format_options_clone(g_mime_format_options_get_default());
  g_mime_format_options_set_newline_format(options, GMIME_NEWLINE_FORMAT_DOS);
  // Collect through a small memory window, flushing to the spool as it
  // fills, so a large kept part never sits whole in memory.
  auto fd = out.writable_fd();
  if (!fd) {
    g_mime_format_options_free(options);
    return fd.error();
  }
  auto stream = adopt(g_mime_stream_fs_new(*fd));
  auto buffered = adopt(g_mime_stream_buffer_new(stream.get(), GMIME_STREAM_BUFFER_BLOCK_WRITE));
  ssize_t n = g_mime_object_write_content_to_stream(top, options, buffered.get());
  bool flushed = g_mime_stream_flush(buffered.get()) == 0;
  g_mime_format_options_free(options);
  if (n < 0 || !flushed) return make_error("cannot write the new body to the spool");
  return out.sync_size();
}

}  // namespace attachgate::milter
