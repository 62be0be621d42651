// web/zip_stream.h - all files of a message as one .zip, produced as a stream.
//
// The archive is never held in memory: entries are "stored" (no compression),
// so every header, offset and the total size are known before the first byte,
// and the response can carry Content-Length. CRC-32s are only known after an
// entry has streamed, so they go into data descriptors (bit 3) and the central
// directory. Entry sources are untrusted in length: one that yields fewer or
// more bytes than declared fails the read rather than giving a corrupt archive.
#pragma once

#include <boost/crc.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "util/result.h"
#include "web/byte_source.h"

namespace attachgate::web {

struct ZipEntry {
  std::string name;        // already sanitised UTF-8 file name (no '/', no controls)
  std::uint64_t size = 0;  // exact plaintext size
  std::int64_t mtime = 0;  // unix seconds, stored as DOS time in UTC
  // Opens the entry's bytes when the stream reaches it (lazily: one open at a time).
  std::function<Result<std::unique_ptr<ByteSource>>()> open;
};

// Sizes and offsets at or above this need Zip64 fields (0xFFFFFFFF is the marker).
inline constexpr std::uint64_t kZip64Threshold = 0xFFFFFFFF;

class ZipStream : public ByteSource {
 public:
  // Fails for no entries and for names that are empty, "."/"..", hold '/',
  // '\\' or control bytes, or are not UTF-8. Duplicate names (compared
  // ASCII-case-insensitively, as Windows and macOS extract them) become
  // "name (2).ext", "name (3).ext". zip64_threshold exists for tests only: a
  // low value exercises the Zip64 layout without gigabytes of data.
  static Result<std::unique_ptr<ZipStream>> create(std::vector<ZipEntry> entries,
                                                   std::uint64_t zip64_threshold = kZip64Threshold);

  std::uint64_t size() const override { return total_; }
  Result<std::size_t> read(void* data, std::size_t size) override;
  // Generates and discards: CRCs of skipped entry data still have to be computed.
  Status skip(std::uint64_t bytes) override;

  // The names as stored, after de-duplication (for a listing page or a log).
  std::vector<std::string> names() const;

 private:
  struct Item {
    ZipEntry entry;
    std::uint64_t offset = 0;  // of its local header
    std::uint32_t crc = 0;     // known once its data has streamed
    std::uint16_t dos_time = 0;
    std::uint16_t dos_date = 0;
  };
  enum class Phase { kLocal, kData, kDescriptor, kCentral, kEnd, kDone };

  explicit ZipStream(std::uint64_t zip64_threshold) : threshold_(zip64_threshold) {}
  Status layout();
  bool zip64_sizes(const Item& item) const { return item.entry.size >= threshold_; }
  std::string local_header(const Item& item) const;
  std::string descriptor(const Item& item) const;
  std::string central_header(const Item& item) const;
  std::string end_records() const;
  // Moves to the next phase and fills pending_ with its metadata bytes.
  Status advance();
  Status start_data();
  Status finish_data();
  Result<std::size_t> produce(unsigned char* out, std::size_t size);
  Error fail(Error error);
  std::string label(const Item& item) const;

  std::uint64_t threshold_;
  std::vector<Item> items_;
  std::uint64_t total_ = 0;
  std::uint64_t cd_offset_ = 0;
  std::uint64_t cd_size_ = 0;

  Phase phase_ = Phase::kLocal;
  std::size_t index_ = 0;  // the entry the phase belongs to
  std::string pending_;    // metadata bytes of the current phase
  std::size_t pending_pos_ = 0;
  std::unique_ptr<ByteSource> source_;
  std::uint64_t data_left_ = 0;
  boost::crc_32_type crc_;
  std::uint64_t produced_ = 0;
  std::optional<Error> failed_;  // sticky: after an Error, nothing more is trusted
};

}  // namespace attachgate::web
