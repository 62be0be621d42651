// store/blob_copy.cc - see blob_copy.h.
#include "store/blob_copy.h"

#include <vector>

#include "store/sha256.h"

namespace attachgate::store {
namespace {

constexpr std::size_t kBuffer = 1 << 20;

// Feeds the whole object to `take` in pieces, in order.
template <class Take>
Status read_all(ObjectSource& source, const std::string& where, Take take) {
  std::vector<char> buffer(kBuffer);
  std::uint64_t offset = 0;
  while (offset < source.size()) {
    iovec iov{buffer.data(), buffer.size()};
    auto n = source.read_at(offset, &iov, 1);
    if (!n) return make_error(where + ": " + n.error().message);
    if (*n == 0) return make_error(where + ": the object ended before its size");
    if (auto s = take(buffer.data(), *n); !s) return s;
    offset += *n;
  }
  return {};
}

}  // namespace

Result<BlobCopied> copy_object(const BlobBackend& from, const BlobBackend& to,
                               const std::string& id) {
  auto there = to.exists(id);
  if (!there) return make_error("destination blobs " + to.where() + ": " + there.error().message);
  auto source = from.open(id);
  if (!source) return make_error("source blobs " + from.where() + ": " + source.error().message);
  if (!*source) return BlobCopied{BlobCopyOutcome::missing_in_source, 0};
  const std::uint64_t size = (*source)->size();
  if (*there) return BlobCopied{BlobCopyOutcome::already_there, size};
  auto sink = to.create(id);
  if (!sink) return make_error("destination blobs " + to.where() + ": " + sink.error().message);
  auto copied = read_all(**source, "source blob " + id, [&](const char* data, std::size_t n) -> Status {
    if (auto s = (*sink)->write(data, n); !s)
      return make_error("destination blobs " + to.where() + ": " + s.error().message);
    return {};
  });
  if (!copied) return copied.error();
  if (auto s = (*sink)->finish(); !s)
    return make_error("destination blobs " + to.where() + ": " + s.error().message);
  return BlobCopied{BlobCopyOutcome::copied, size};
}

Result<std::optional<std::string>> object_sha256(const BlobBackend& backend,
                                                 const std::string& id) {
  auto source = backend.open(id);
  if (!source) return make_error(backend.where() + ": " + source.error().message);
  if (!*source) return std::optional<std::string>();
  Sha256 hash;
  auto read = read_all(**source, "blob " + id, [&](const char* data, std::size_t n) -> Status {
    hash.update(data, n);
    return {};
  });
  if (!read) return read.error();
  return std::optional<std::string>(hash.final_hex());
}

}  // namespace attachgate::store
