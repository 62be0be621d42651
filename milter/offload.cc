// milter/offload.cc - see offload.h.
#include "milter/offload.h"

#include <vector>

#include "milter/base64.h"
#include "milter/gobject_ptr.h"

namespace attachgate::milter {

namespace {

constexpr std::size_t kReadSize = 64 * 1024;

// Reads a stream to its end in 64 KiB pieces, handing each to sink.
template <class Sink>
Status drain(GMimeStream* stream, Sink&& sink) {
  std::vector<unsigned char> buf(kReadSize);
  // A bounded file stream answers a read at its end with -1, not 0.
  while (!g_mime_stream_eos(stream)) {
    ssize_t n = g_mime_stream_read(stream, reinterpret_cast<char*>(buf.data()), buf.size());
    if (n < 0) return make_error("cannot read attachment from the spool");
    if (n == 0) break;
    if (auto s = sink(buf.data(), static_cast<std::size_t>(n)); !s) return s;
  }
  return {};
}

}  // namespace

Result<store::BlobInfo> store_part(GMimePart* part, const store::BlobStore& blobs,
                                   const std::function<void()>& progress) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  GMimeStream* raw = content ? g_mime_data_wrapper_get_stream(content) : nullptr;
  auto writer = blobs.create();
  if (!writer) return writer.error();
  if (raw == nullptr) return writer->commit();
  if (g_mime_stream_reset(raw) != 0) return make_error("cannot rewind attachment stream");

  std::uint64_t since_progress = 0;
  auto store = [&](const unsigned char* data, std::size_t n) -> Status {
    if (auto s = writer->write(data, n); !s) return s;
    since_progress += n;
    if (since_progress >= 8u << 20) {
      since_progress = 0;
      if (progress) progress();
    }
    return {};
  };

  const GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(content);
  if (enc == GMIME_CONTENT_ENCODING_BASE64) {
    // Most attachments: read the encoded bytes straight from the spool and
    // decode them here (see base64.h), not through a GMime filter stream.
    Base64Decoder decoder;
    std::vector<unsigned char> decoded(Base64Decoder::max_output(kReadSize));
    auto decode = [&](const unsigned char* data, std::size_t n) {
      return store(decoded.data(), decoder.step(data, n, decoded.data()));
    };
    if (auto s = drain(raw, decode); !s) return s.error();
    if (auto s = store(decoded.data(), decoder.finish(decoded.data())); !s) return s.error();
    return writer->commit();
  }
  auto filtered = adopt(g_mime_stream_filter_new(raw));
  if (enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE || enc == GMIME_CONTENT_ENCODING_UUENCODE) {
    auto decoder = adopt(g_mime_filter_basic_new(enc, FALSE));
    g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered.get()), decoder.get());
  }
  if (auto s = drain(filtered.get(), store); !s) return s.error();
  return writer->commit();
}

}  // namespace attachgate::milter
