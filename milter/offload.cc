// milter/offload.cc - see offload.h.
#include "milter/offload.h"

#include <vector>

#include "milter/gobject_ptr.h"

namespace attachgate::milter {

Result<store::BlobInfo> store_part(GMimePart* part, const store::BlobStore& blobs,
                                   const std::function<void()>& progress) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  GMimeStream* raw = content ? g_mime_data_wrapper_get_stream(content) : nullptr;
  auto writer = blobs.create();
  if (!writer) return writer.error();
  if (raw) {
    if (g_mime_stream_reset(raw) != 0) return make_error("cannot rewind attachment stream");
    auto filtered = adopt(g_mime_stream_filter_new(raw));
    const GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(content);
    if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
        enc == GMIME_CONTENT_ENCODING_UUENCODE) {
      auto decoder = adopt(g_mime_filter_basic_new(enc, FALSE));
      g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered.get()), decoder.get());
    }
    std::vector<char> buf(64 * 1024);
    std::uint64_t since_progress = 0;
    for (;;) {
      ssize_t n = g_mime_stream_read(filtered.get(), buf.data(), buf.size());
      if (n < 0) return make_error("cannot read attachment from the spool");
      if (n == 0) break;
      if (auto s = writer->write(buf.data(), static_cast<std::size_t>(n)); !s) return s.error();
      since_progress += static_cast<std::uint64_t>(n);
      if (since_progress >= 8u << 20) {
        since_progress = 0;
        if (progress) progress();
      }
    }
  }
  return writer->commit();
}

}  // namespace attachgate::milter
