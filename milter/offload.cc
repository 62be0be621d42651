// milter/offload.cc - see offload.h.
#include "milter/offload.h"

#include <algorithm>
#include <variant>
#include <vector>

#include "milter/base64.h"
#include "milter/quoted_printable.h"
#include "milter/transfer_encoding.h"
#include "milter/uudecode.h"

namespace attachgate::milter {

namespace {

constexpr std::size_t kReadSize = 64 * 1024;

class CopyDecoder {
 public:
  static constexpr std::size_t max_output(std::size_t n) { return n; }
  std::size_t step(const unsigned char* in, std::size_t n, unsigned char* out) {
    std::copy(in, in + n, out);
    return n;
  }
  std::size_t finish(unsigned char*) { return 0; }
  const char* doubt() const { return nullptr; }
};

using Decoder = std::variant<CopyDecoder, Base64Decoder, QuotedPrintableDecoder, UudecodeDecoder>;

Decoder decoder_for(TransferEncoding e) {
  switch (e) {
    case TransferEncoding::base64: return Base64Decoder{};
    case TransferEncoding::quoted_printable: return QuotedPrintableDecoder{};
    case TransferEncoding::uuencode: return UudecodeDecoder{};
    case TransferEncoding::identity: break;
  }
  return CopyDecoder{};
}

// Reads the part's encoded bytes to their end, decoding each piece into
// `store`. Returns the decoder's doubt, if any. A read that comes up short
// of the stream's length is an Error: a partial attachment is never stored.
template <class D, class Sink>
Result<const char*> decode_whole(GMimeStream* raw, D& decoder, Sink&& store) {
  const gint64 length = g_mime_stream_length(raw);
  std::vector<unsigned char> in(kReadSize), out(D::max_output(kReadSize));
  gint64 total = 0;
  while (length < 0 || total < length) {
    const std::size_t want =
        length < 0 ? kReadSize : static_cast<std::size_t>(std::min<gint64>(kReadSize, length - total));
    ssize_t n = g_mime_stream_read(raw, reinterpret_cast<char*>(in.data()), want);
    // A bounded file stream answers a read at its end with -1, not 0.
    if (n <= 0 && g_mime_stream_eos(raw)) break;
    if (n <= 0) return make_error("cannot read attachment from the spool");
    total += n;
    if (auto s = store(out.data(), decoder.step(in.data(), static_cast<std::size_t>(n), out.data())); !s)
      return s.error();
  }
  if (length >= 0 && total != length)
    return make_error("attachment read short: " + std::to_string(total) + " of " +
                      std::to_string(length) + " bytes");
  if (auto s = store(out.data(), decoder.finish(out.data())); !s) return s.error();
  return decoder.doubt();
}

}  // namespace

Result<StoredPart> store_part(GMimePart* part, const store::BlobStore& blobs,
                              const std::function<void()>& progress) {
  const auto encoding = transfer_encoding_of(GMIME_OBJECT(part));
  if (const auto* doubt = std::get_if<EncodingDoubt>(&encoding)) return StoredPart{std::nullopt, doubt->why};

  GMimeDataWrapper* content = g_mime_part_get_content(part);
  GMimeStream* raw = content ? g_mime_data_wrapper_get_stream(content) : nullptr;
  auto writer = blobs.create();
  if (!writer) return writer.error();
  if (raw == nullptr) {
    auto blob = writer->commit();
    if (!blob) return blob.error();
    return StoredPart{*blob, ""};
  }
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
  Decoder decoder = decoder_for(std::get<TransferEncoding>(encoding));
  auto doubt = std::visit([&](auto& d) { return decode_whole(raw, d, store); }, decoder);
  if (!doubt) return doubt.error();
  // The writer, dropped uncommitted, leaves nothing behind.
  if (*doubt != nullptr) return StoredPart{std::nullopt, *doubt};
  auto blob = writer->commit();
  if (!blob) return blob.error();
  return StoredPart{*blob, ""};
}

}  // namespace attachgate::milter
