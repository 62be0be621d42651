// web/zip_stream.cc - see zip_stream.h.
//
// Layout per entry: local header, stored bytes, data descriptor; then the
// central directory and the end records. create() fixes every size and offset,
// so read() only has to emit them and fill in CRCs as entries finish. The
// local header carries the real sizes (only the CRC is deferred): readers that
// walk local headers, such as macOS Archive Utility, then know where the
// stored data ends, and readers that follow the spec take the sizes from the
// central directory, which agrees. Descriptors keep their signature for the
// same sequential readers.
#include "web/zip_stream.h"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <set>
#include <string_view>

#include "util/text.h"

namespace attachgate::web {
namespace {

constexpr std::uint32_t kLocalSig = 0x04034b50;
constexpr std::uint32_t kDescriptorSig = 0x08074b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kEnd64Sig = 0x06064b50;
constexpr std::uint32_t kLocator64Sig = 0x07064b50;
constexpr std::uint32_t kEndSig = 0x06054b50;

constexpr std::uint16_t kFlags = 0x0808;  // bit 3: CRC in a descriptor; bit 11: UTF-8 name
constexpr std::uint16_t kVersion20 = 20;  // stored, data descriptor
constexpr std::uint16_t kVersion45 = 45;  // Zip64
constexpr std::uint16_t kMadeByUnix = 3 << 8;
constexpr std::uint32_t kRegularFile0644 = 0100644u << 16;  // else unzip may leave mode 0000
constexpr std::uint16_t kZip64ExtraId = 0x0001;

constexpr std::size_t kLocalFixed = 30;
constexpr std::size_t kCentralFixed = 46;
constexpr std::size_t kEnd64Size = 56;
constexpr std::size_t kLocator64Size = 20;
constexpr std::size_t kEndSize = 22;
constexpr std::uint64_t kMaxCount16 = 0xFFFF;
constexpr std::uint32_t kMarker32 = 0xFFFFFFFF;

constexpr std::size_t kMaxNameBytes = 0xFFFF;
constexpr std::size_t kMaxExtension = 32;  // a longer ".tail" is part of the name
constexpr std::size_t kScratch = 64 * 1024;

void put16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v & 0xFF));
  out.push_back(static_cast<char>(v >> 8));
}
void put32(std::string& out, std::uint32_t v) {
  put16(out, static_cast<std::uint16_t>(v & 0xFFFF));
  put16(out, static_cast<std::uint16_t>(v >> 16));
}
void put64(std::string& out, std::uint64_t v) {
  put32(out, static_cast<std::uint32_t>(v & 0xFFFFFFFF));
  put32(out, static_cast<std::uint32_t>(v >> 32));
}

// DOS time has 2-second steps and years 1980..2107; outside that it is clamped.
void dos_time(std::int64_t unix_seconds, std::uint16_t& time, std::uint16_t& date) {
  constexpr std::int64_t kFirst = 315532800;  // 1980-01-01 00:00:00 UTC
  constexpr std::int64_t kLast = 4354819198;  // 2107-12-31 23:59:58 UTC
  std::time_t t = static_cast<std::time_t>(std::clamp(unix_seconds, kFirst, kLast));
  std::tm tm{};
  if (!::gmtime_r(&t, &tm)) panic("gmtime_r failed on a clamped time");
  time = static_cast<std::uint16_t>((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
  date = static_cast<std::uint16_t>(((tm.tm_year - 80) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
}

// The longest prefix of at most `bytes` bytes that does not split a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view text, std::size_t bytes) {
  if (text.size() <= bytes) return text;
  while (bytes > 0 && (static_cast<unsigned char>(text[bytes]) & 0xC0) == 0x80) --bytes;
  return text.substr(0, bytes);
}

struct NameParts {
  std::string_view stem;
  std::string_view extension;  // with its dot, or empty
};

NameParts split_name(std::string_view name) {
  std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || name.size() - dot > kMaxExtension) {
    return {name, {}};
  }
  return {name.substr(0, dot), name.substr(dot)};
}

// stem + suffix + extension, with the stem cut so the whole fits the 16-bit field.
std::string fitted_name(NameParts parts, std::string_view suffix) {
  std::size_t budget = kMaxNameBytes - suffix.size() - parts.extension.size();
  std::string out(utf8_prefix(parts.stem, budget));
  out.append(suffix);
  out.append(parts.extension);
  return out;
}

Status check_name(const std::string& name) {
  if (name.empty() || name == "." || name == "..")
    return make_error("zip entry name is empty or a dot name");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7F || c == '/' || c == '\\') {
      return make_error("zip entry name holds '/', '\\' or a control character: " +
                        terminal_safe(name, 80));
    }
  }
  if (!valid_utf8(name))
    return make_error("zip entry name is not UTF-8: " + terminal_safe(name, 80));
  return {};
}

// Names compare ASCII-case-insensitively: "A.pdf" and "a.pdf" would overwrite
// each other when extracted on Windows or macOS. Names given by the caller
// keep priority: a generated "x (2).pdf" never takes the place of a real one.
void make_unique(std::vector<std::string*>& names) {
  std::set<std::string> taken;
  for (const std::string* name : names) taken.insert(ascii_lower(*name));
  std::set<std::string> claimed;
  for (std::string* name : names) {
    std::string key = ascii_lower(*name);
    if (claimed.insert(key).second) continue;
    NameParts parts = split_name(*name);
    for (std::uint64_t n = 2;; ++n) {
      std::string candidate = fitted_name(parts, " (" + std::to_string(n) + ")");
      std::string candidate_key = ascii_lower(candidate);
      if (taken.insert(candidate_key).second) {
        claimed.insert(candidate_key);
        *name = std::move(candidate);
        break;
      }
    }
  }
}

bool add_checked(std::uint64_t& total, std::uint64_t more) {
  return !__builtin_add_overflow(total, more, &total);
}

}  // namespace

Result<std::unique_ptr<ZipStream>> ZipStream::create(std::vector<ZipEntry> entries,
                                                     std::uint64_t zip64_threshold) {
  if (entries.empty()) return make_error("zip archive with no entries");
  if (zip64_threshold == 0 || zip64_threshold > kZip64Threshold) {
    return make_error("zip64 threshold out of range");
  }
  std::unique_ptr<ZipStream> zip(new ZipStream(zip64_threshold));
  zip->items_.reserve(entries.size());
  std::vector<std::string*> names;
  for (ZipEntry& entry : entries) {
    if (!entry.open)
      return make_error("zip entry without a source: " + terminal_safe(entry.name, 80));
    if (entry.name.size() > kMaxNameBytes) entry.name = fitted_name(split_name(entry.name), "");
    if (Status ok = check_name(entry.name); !ok) return ok.error();
    Item& item = zip->items_.emplace_back();
    dos_time(entry.mtime, item.dos_time, item.dos_date);
    item.entry = std::move(entry);
  }
  for (Item& item : zip->items_) names.push_back(&item.entry.name);
  make_unique(names);
  if (Status ok = zip->layout(); !ok) return ok.error();
  zip->pending_ = zip->local_header(zip->items_.front());
  return zip;
}

Status ZipStream::layout() {
  std::uint64_t at = 0;
  for (Item& item : items_) {
    item.offset = at;
    std::uint64_t record = local_header(item).size() + descriptor(item).size();
    if (!add_checked(at, record) || !add_checked(at, item.entry.size)) {
      return make_error("zip archive larger than 2^64 bytes");
    }
  }
  cd_offset_ = at;
  for (const Item& item : items_) {
    if (!add_checked(cd_size_, central_header(item).size()))
      return make_error("zip directory too large");
  }
  total_ = cd_offset_;
  if (!add_checked(total_, cd_size_) || !add_checked(total_, end_records().size())) {
    return make_error("zip archive larger than 2^64 bytes");
  }
  return {};
}

std::vector<std::string> ZipStream::names() const {
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const Item& item : items_) out.push_back(item.entry.name);
  return out;
}

std::string ZipStream::local_header(const Item& item) const {
  const bool zip64 = zip64_sizes(item);
  const bool offset64 = item.offset >= threshold_;
  std::string out;
  out.reserve(kLocalFixed + item.entry.name.size() + 20);
  put32(out, kLocalSig);
  put16(out, zip64 || offset64 ? kVersion45 : kVersion20);
  put16(out, kFlags);
  put16(out, 0);  // stored
  put16(out, item.dos_time);
  put16(out, item.dos_date);
  put32(out, 0);  // CRC-32: in the data descriptor
  std::uint32_t size32 = zip64 ? kMarker32 : static_cast<std::uint32_t>(item.entry.size);
  put32(out, size32);  // compressed
  put32(out, size32);  // uncompressed
  put16(out, static_cast<std::uint16_t>(item.entry.name.size()));
  put16(out, zip64 ? 20 : 0);
  out.append(item.entry.name);
  if (zip64) {
    put16(out, kZip64ExtraId);
    put16(out, 16);
    put64(out, item.entry.size);  // uncompressed
    put64(out, item.entry.size);  // compressed
  }
  return out;
}

// With a Zip64 local header the descriptor sizes are 8 bytes (APPNOTE 4.3.9.2).
std::string ZipStream::descriptor(const Item& item) const {
  std::string out;
  put32(out, kDescriptorSig);
  put32(out, item.crc);
  if (zip64_sizes(item)) {
    put64(out, item.entry.size);
    put64(out, item.entry.size);
  } else {
    put32(out, static_cast<std::uint32_t>(item.entry.size));
    put32(out, static_cast<std::uint32_t>(item.entry.size));
  }
  return out;
}

std::string ZipStream::central_header(const Item& item) const {
  const bool zip64 = zip64_sizes(item);
  const bool offset64 = item.offset >= threshold_;
  std::string extra;
  if (zip64 || offset64) {
    put16(extra, kZip64ExtraId);
    put16(extra, static_cast<std::uint16_t>((zip64 ? 16 : 0) + (offset64 ? 8 : 0)));
    if (zip64) {
      put64(extra, item.entry.size);  // uncompressed, then compressed: APPNOTE order
      put64(extra, item.entry.size);
    }
    if (offset64) put64(extra, item.offset);
  }
  const std::uint16_t version = zip64 || offset64 ? kVersion45 : kVersion20;
  std::string out;
  out.reserve(kCentralFixed + item.entry.name.size() + extra.size());
  put32(out, kCentralSig);
  put16(out, kMadeByUnix | version);
  put16(out, version);
  put16(out, kFlags);
  put16(out, 0);  // stored
  put16(out, item.dos_time);
  put16(out, item.dos_date);
  put32(out, item.crc);
  std::uint32_t size32 = zip64 ? kMarker32 : static_cast<std::uint32_t>(item.entry.size);
  put32(out, size32);
  put32(out, size32);
  put16(out, static_cast<std::uint16_t>(item.entry.name.size()));
  put16(out, static_cast<std::uint16_t>(extra.size()));
  put16(out, 0);  // comment length
  put16(out, 0);  // disk number
  put16(out, 0);  // internal attributes
  put32(out, kRegularFile0644);
  put32(out, offset64 ? kMarker32 : static_cast<std::uint32_t>(item.offset));
  out.append(item.entry.name);
  out.append(extra);
  return out;
}

std::string ZipStream::end_records() const {
  const std::uint64_t count = items_.size();
  const bool count64 = count >= kMaxCount16;
  const bool size64 = cd_size_ >= threshold_;
  const bool offset64 = cd_offset_ >= threshold_;
  const bool zip64 = count64 || size64 || offset64;
  std::string out;
  if (zip64) {
    const std::uint64_t end64_at = cd_offset_ + cd_size_;
    put32(out, kEnd64Sig);
    put64(out, kEnd64Size - 12);  // the record's size, not counting these first 12 bytes
    put16(out, kMadeByUnix | kVersion45);
    put16(out, kVersion45);
    put32(out, 0);  // this disk
    put32(out, 0);  // disk with the central directory
    put64(out, count);
    put64(out, count);
    put64(out, cd_size_);
    put64(out, cd_offset_);
    put32(out, kLocator64Sig);
    put32(out, 0);  // disk with the Zip64 end record
    put64(out, end64_at);
    put32(out, 1);  // total disks
  }
  const std::uint16_t count16 = count64 ? 0xFFFF : static_cast<std::uint16_t>(count);
  put32(out, kEndSig);
  put16(out, 0);
  put16(out, 0);
  put16(out, count16);
  put16(out, count16);
  put32(out, size64 ? kMarker32 : static_cast<std::uint32_t>(cd_size_));
  put32(out, offset64 ? kMarker32 : static_cast<std::uint32_t>(cd_offset_));
  put16(out, 0);  // comment length
  if (out.size() != kEndSize + (zip64 ? kEnd64Size + kLocator64Size : 0))
    panic("zip end records of a size other than the format's");
  return out;
}

std::string ZipStream::label(const Item& item) const {
  return "zip entry " + std::to_string(&item - items_.data() + 1) + " (" +
         terminal_safe(item.entry.name, 80) + ")";
}

Error ZipStream::fail(Error error) {
  source_.reset();
  failed_ = error;
  return error;
}

Status ZipStream::start_data() {
  Item& item = items_[index_];
  auto opened = item.entry.open();
  if (!opened) return fail(make_error(label(item) + ": " + opened.error().message));
  source_ = std::move(opened).value();
  if (!source_) return fail(make_error(label(item) + ": no source"));
  if (source_->size() != item.entry.size) {
    return fail(make_error(label(item) + ": source has " + std::to_string(source_->size()) +
                           " bytes, " + std::to_string(item.entry.size) + " declared"));
  }
  crc_.reset();
  data_left_ = item.entry.size;
  phase_ = Phase::kData;
  return {};
}

// The declared size is in headers already sent, so a source with bytes left
// over is as wrong as one that ends early.
Status ZipStream::finish_data() {
  Item& item = items_[index_];
  unsigned char extra = 0;
  auto more = source_->read(&extra, 1);
  if (!more) return fail(make_error(label(item) + ": " + more.error().message));
  if (*more != 0) return fail(make_error(label(item) + ": source longer than its declared size"));
  source_.reset();
  item.crc = crc_.checksum();
  phase_ = Phase::kDescriptor;
  pending_ = descriptor(item);
  pending_pos_ = 0;
  return {};
}

Status ZipStream::advance() {
  switch (phase_) {
    case Phase::kLocal:
      return start_data();
    case Phase::kData:
      return finish_data();
    case Phase::kDescriptor:
      if (++index_ < items_.size()) {
        phase_ = Phase::kLocal;
        pending_ = local_header(items_[index_]);
      } else {
        index_ = 0;
        phase_ = Phase::kCentral;
        pending_ = central_header(items_[index_]);
      }
      break;
    case Phase::kCentral:
      if (++index_ < items_.size()) {
        pending_ = central_header(items_[index_]);
      } else {
        phase_ = Phase::kEnd;
        pending_ = end_records();
      }
      break;
    case Phase::kEnd:
      phase_ = Phase::kDone;
      pending_.clear();
      if (produced_ != total_) panic("zip stream produced a size other than it announced");
      break;
    case Phase::kDone:
      break;
  }
  pending_pos_ = 0;
  return {};
}

Result<std::size_t> ZipStream::produce(unsigned char* out, std::size_t size) {
  if (failed_) return *failed_;
  std::size_t done = 0;
  while (done < size && phase_ != Phase::kDone) {
    if (phase_ == Phase::kData && data_left_ > 0) {
      std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(size - done, data_left_));
      auto got = source_->read(out + done, want);
      if (!got) return fail(make_error(label(items_[index_]) + ": " + got.error().message));
      if (*got == 0) {
        return fail(make_error(label(items_[index_]) + ": source ended " +
                               std::to_string(data_left_) + " bytes before its declared size"));
      }
      if (*got > want) return fail(make_error(label(items_[index_]) + ": source overran the read"));
      crc_.process_bytes(out + done, *got);
      data_left_ -= *got;
      done += *got;
      produced_ += *got;
    } else if (phase_ != Phase::kData && pending_pos_ < pending_.size()) {
      std::size_t n = std::min(size - done, pending_.size() - pending_pos_);
      std::memcpy(out + done, pending_.data() + pending_pos_, n);
      pending_pos_ += n;
      done += n;
      produced_ += n;
    } else if (Status ok = advance(); !ok) {
      return ok.error();
    }
  }
  return done;
}

Result<std::size_t> ZipStream::read(void* data, std::size_t size) {
  return produce(static_cast<unsigned char*>(data), size);
}

Status ZipStream::skip(std::uint64_t bytes) {
  if (failed_) return *failed_;
  if (bytes > total_ - produced_) return make_error("zip skip past the end of the archive");
  std::vector<unsigned char> scratch(
      static_cast<std::size_t>(std::min<std::uint64_t>(bytes, kScratch)));
  while (bytes > 0) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, scratch.size()));
    auto got = produce(scratch.data(), want);
    if (!got) return got.error();
    if (*got == 0) panic("zip stream ended before its announced size");
    bytes -= *got;
  }
  return {};
}

}  // namespace attachgate::web
