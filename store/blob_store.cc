// store/blob_store.cc - see blob_store.h.
//
// Both formats open with: magic (8) | wrap nonce (24) | the random per-blob
// key (32) sealed with XChaCha20-Poly1305 under the blob wrap key (32+16),
// AD = blob id (v1) or magic | blob id (v2). Every chunk but the last holds exactly kBlobChunkSize plaintext
// bytes; the last holds 0..kBlobChunkSize (an empty blob is one empty chunk).
//  v1 "AGBLOB1\n", read only: | secretstream header (24) | secretstream
//     chunks, the last tagged TAG_FINAL.
//  v2 "AGBLOB2\n": | chunks. Chunk i is AES-256-GCM ciphertext then its
//     16-byte tag; nonce = 4 zero bytes | big-endian 64-bit i; AAD = 1 byte,
//     1 for the last chunk, else 0. The key is fresh per blob, so a nonce is
//     never reused under a key. Blob files are immutable once renamed into
//     place, so the reader takes the chunk layout from the size at open: a
//     file cut, extended, reordered or moved to another id leaves some chunk
//     with the wrong nonce, length or final flag, or the key unwrapped with
//     the wrong AD, and fails. Chunk offsets are computable, so skip() seeks.
// The object in the back end is this format byte for byte, whatever the
// back end.
#include "store/blob_store.h"

#include <algorithm>
#include <cstring>

#include "store/secrets.h"
#include "util/fault.h"

namespace attachgate::store {
namespace {

constexpr std::size_t kMagic = 8;
constexpr char kMagicV1[kMagic] = {'A', 'G', 'B', 'L', 'O', 'B', '1', '\n'};
constexpr char kMagicV2[kMagic] = {'A', 'G', 'B', 'L', 'O', 'B', '2', '\n'};
constexpr std::size_t kKeyBytes = AesGcm::kKeyBytes;
static_assert(kKeyBytes == crypto_secretstream_xchacha20poly1305_KEYBYTES);
constexpr std::size_t kWrapNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kWrappedKey = kKeyBytes + crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t kPrefix = kMagic + kWrapNonce + kWrappedKey;  // = the v2 header
constexpr std::size_t kStreamHeader = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
constexpr std::size_t kCipherChunkV1 = kBlobChunkSize + crypto_secretstream_xchacha20poly1305_ABYTES;
constexpr std::size_t kTag = AesGcm::kTagBytes;
constexpr std::size_t kCipherChunkV2 = kBlobChunkSize + kTag;

// What the wrapped key is bound to: the blob id, and for v2 the magic too,
// so that a v2 file relabelled as v1 cannot even unwrap its key.
std::string wrap_ad(bool v2, const std::string& id) {
  return v2 ? std::string(kMagicV2, kMagic) + id : id;
}

const unsigned char* bytes_of(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// A per-blob key, zeroed on every way out of scope.
struct BlobKey {
  unsigned char bytes[kKeyBytes];
  ~BlobKey() { sodium_memzero(bytes, sizeof bytes); }
};

void chunk_nonce(std::uint64_t index, unsigned char (&nonce)[AesGcm::kNonceBytes]) {
  std::memset(nonce, 0, 4);
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<unsigned char>(index >> (56 - 8 * i));
}

}  // namespace

// ---- BlobWriter (always v2) ------------------------------------------------

// Seals plain_ in place, appends its tag and writes both.
Status BlobWriter::seal(bool final) {
  const std::size_t n = plain_.size();
  unsigned char nonce[AesGcm::kNonceBytes];
  chunk_nonce(chunk_index_++, nonce);
  const unsigned char aad = final ? 1 : 0;
  plain_.resize(n + kTag);
  Status s = gcm_->seal(nonce, &aad, 1, plain_.data(), n, plain_.data(), plain_.data() + n);
  if (s) s = sink_->write(plain_.data(), plain_.size());
  plain_.clear();
  return s;
}

Status BlobWriter::write(const void* data, std::size_t size) {
  if (done_) panic("BlobWriter::write after commit");
  fault_point("blob_write");
  const auto* p = static_cast<const unsigned char*>(data);
  hash_.update(p, size);
  size_ += size;
  while (size > 0) {
    // Seal a full chunk only once more data arrives: the last chunk must
    // say it is final, and we learn which one is last only at commit().
    if (plain_.size() == kBlobChunkSize) {
      if (auto s = seal(false); !s) return s;
    }
    std::size_t take = std::min(size, kBlobChunkSize - plain_.size());
    plain_.insert(plain_.end(), p, p + take);
    p += take;
    size -= take;
  }
  return {};
}

Result<BlobInfo> BlobWriter::commit() {
  if (done_) panic("BlobWriter::commit twice");
  if (auto s = seal(true); !s) return s.error();
  if (auto s = sink_->finish(); !s) return s.error();
  done_ = true;
  sink_.reset();
  fault_point("blob_committed");  // the blob is in place, its row not yet
  return BlobInfo{id_, size_, hash_.final_hex()};
}

// ---- BlobReader -------------------------------------------------------------

BlobReader::~BlobReader() { sodium_memzero(&stream_, sizeof stream_); }

Result<std::size_t> BlobReader::read_next(void* data, std::size_t size) {
  iovec iov{data, size};
  auto got = source_->read_at(cursor_, &iov, 1);
  if (got) cursor_ += *got;
  return got;
}

Status BlobReader::next_chunk() {
  auto got = read_next(cipher_.data(), cipher_.size());
  if (!got) return got.error();
  if (*got < crypto_secretstream_xchacha20poly1305_ABYTES)
    return make_error(name_ + ": blob is truncated");
  plain_.resize(kBlobChunkSize);
  unsigned long long plain_len = 0;
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(&stream_, plain_.data(), &plain_len, &tag,
                                                 cipher_.data(), *got, nullptr, 0) != 0)
    return make_error(name_ + ": blob failed authentication (tampered or damaged)");
  plain_.resize(static_cast<std::size_t>(plain_len));
  pos_ = 0;
  if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
    unsigned char extra;
    auto more = read_next(&extra, 1);
    if (!more) return more.error();
    if (*more != 0) return make_error(name_ + ": blob has data after its final chunk");
    final_ = true;
  } else if (*got < cipher_.size()) {
    return make_error(name_ + ": blob is truncated");
  }
  return {};
}

std::size_t BlobReader::chunk_plain_size(std::uint64_t index) const {
  return index + 1 == chunks_ ? last_plain_ : kBlobChunkSize;
}

// Reads chunk `index` and decrypts it in place in out (chunk_plain_size
// bytes); on failure out holds no plaintext.
Status BlobReader::open_chunk(std::uint64_t index, unsigned char* out) {
  const bool last = index + 1 == chunks_;
  const std::size_t n = chunk_plain_size(index);
  unsigned char tag[kTag];
  unsigned char extra = 0;
  iovec iov[3] = {{out, n}, {tag, kTag}, {&extra, 1}};
  auto got = source_->read_at(kPrefix + index * kCipherChunkV2, iov, last ? 3 : 2);
  if (!got) return got.error();
  // The layout came from the size at open; an object changed since is damaged.
  if (*got < n + kTag) return make_error(name_ + ": blob is truncated");
  if (*got > n + kTag) return make_error(name_ + ": blob has data after its final chunk");
  unsigned char nonce[AesGcm::kNonceBytes];
  chunk_nonce(index, nonce);
  const unsigned char aad = last ? 1 : 0;
  if (auto s = gcm_->open(nonce, &aad, 1, out, n, out, tag); !s)
    return make_error(name_ + ": blob chunk " + std::to_string(index) + ": " + s.error().message);
  next_index_ = index + 1;
  final_ = last;
  return {};
}

Status BlobReader::buffer_chunk(std::uint64_t index) {
  plain_.resize(chunk_plain_size(index));
  pos_ = 0;
  Status s = open_chunk(index, plain_.data());
  if (!s) plain_.clear();
  return s;
}

Result<std::size_t> BlobReader::read(void* data, std::size_t size) {
  while (pos_ == plain_.size()) {
    if (final_) return std::size_t{0};
    if (!v2()) {
      if (auto s = next_chunk(); !s) return s.error();
      continue;
    }
    const std::size_t n = chunk_plain_size(next_index_);
    if (n > 0 && size >= n) {  // a whole chunk: no copy through plain_
      if (auto s = open_chunk(next_index_, static_cast<unsigned char*>(data)); !s) return s.error();
      offset_ += n;
      return n;
    }
    if (auto s = buffer_chunk(next_index_); !s) return s.error();
  }
  std::size_t take = std::min(size, plain_.size() - pos_);
  std::memcpy(data, plain_.data() + pos_, take);
  pos_ += take;
  offset_ += take;
  return take;
}

Status BlobReader::skip_v1(std::uint64_t bytes) {
  while (bytes > 0) {
    while (pos_ == plain_.size()) {
      if (final_) return make_error(name_ + ": skip past the end of the blob");
      if (auto s = next_chunk(); !s) return s;
    }
    std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(bytes, plain_.size() - pos_));
    pos_ += take;
    bytes -= take;
  }
  return {};
}

// Decrypts only the chunk holding the target, even a target at the very end:
// read() reports the end only once the final chunk has authenticated.
Status BlobReader::skip(std::uint64_t bytes) {
  if (!v2()) return skip_v1(bytes);
  if (bytes > size_ - offset_) return make_error(name_ + ": skip past the end of the blob");
  if (bytes <= plain_.size() - pos_) {
    pos_ += static_cast<std::size_t>(bytes);
    offset_ += bytes;
    return {};
  }
  const std::uint64_t target = offset_ + bytes;
  const std::uint64_t index = std::min(target / kBlobChunkSize, chunks_ - 1);
  if (auto s = buffer_chunk(index); !s) return s;
  pos_ = static_cast<std::size_t>(target - index * kBlobChunkSize);
  offset_ = target;
  return {};
}

// ---- BlobStore --------------------------------------------------------------

Result<BlobStore> BlobStore::open(const std::string& state_dir, const KeyRing& keys,
                                  const BlobsConfig& config) {
  init_sodium();
  auto backend = open_blob_backend(state_dir, config);
  if (!backend) return backend.error();
  BlobStore store;
  store.backend_ = std::move(*backend);
  store.wrap_key_ = keys.blob_wrap_key();
  return store;
}

bool BlobStore::valid_id(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<BlobWriter> BlobStore::create() const {
  BlobWriter w;
  w.id_ = new_public_id(16);
  auto sink = backend_->create(w.id_);
  if (!sink) return sink.error();
  w.sink_ = std::move(*sink);

  unsigned char header[kPrefix];
  unsigned char* p = header;
  std::memcpy(p, kMagicV2, kMagic);
  p += kMagic;
  unsigned char* nonce = p;
  randombytes_buf(nonce, kWrapNonce);
  p += kWrapNonce;
  BlobKey key;
  randombytes_buf(key.bytes, sizeof key.bytes);
  const std::string ad = wrap_ad(true, w.id_);
  crypto_aead_xchacha20poly1305_ietf_encrypt(p, nullptr, key.bytes, sizeof key.bytes,
                                             bytes_of(ad), ad.size(), nullptr, nonce,
                                             wrap_key_.data());
  auto gcm = AesGcm::create(AesGcm::Mode::seal, key.bytes);
  if (!gcm) return gcm.error();
  w.gcm_.emplace(std::move(*gcm));
  w.plain_.reserve(kCipherChunkV2);
  if (auto s = w.sink_->write(header, sizeof header); !s) return s.error();
  return w;
}

Result<BlobReader> BlobStore::open_blob(const std::string& id) const {
  auto found = find_blob(id);
  if (!found) return found.error();
  if (!*found) return make_error(backend_->where() + ": blob " + id + " is missing");
  return std::move(**found);
}

Result<std::optional<BlobReader>> BlobStore::find_blob(const std::string& id) const {
  if (!valid_id(id)) return make_error("invalid blob id");
  BlobReader r;
  r.name_ = backend_->where() + ": blob " + id;
  auto source = backend_->open(id);
  if (!source) return source.error();
  if (!*source) return std::optional<BlobReader>();
  r.source_ = std::move(*source);
  unsigned char header[kPrefix + kStreamHeader];
  auto got = r.read_next(header, kPrefix);
  if (!got) return got.error();
  const bool v1 = *got == kPrefix && std::memcmp(header, kMagicV1, kMagic) == 0;
  const bool v2 = *got == kPrefix && std::memcmp(header, kMagicV2, kMagic) == 0;
  if (v1) {
    got = r.read_next(header + kPrefix, kStreamHeader);
    if (!got) return got.error();
  }
  if (!(v2 || (v1 && *got == kStreamHeader)))
    return make_error(r.name_ + ": not a blob, or its header is truncated");
  const unsigned char* nonce = header + kMagic;
  const unsigned char* wrapped = nonce + kWrapNonce;
  BlobKey key;
  const std::string ad = wrap_ad(v2, id);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(key.bytes, nullptr, nullptr, wrapped, kWrappedKey,
                                                 bytes_of(ad), ad.size(), nonce,
                                                 wrap_key_.data()) != 0)
    return make_error(r.name_ + ": blob key does not unwrap (wrong master key, or tampered)");
  if (v1) {
    if (crypto_secretstream_xchacha20poly1305_init_pull(&r.stream_, header + kPrefix, key.bytes) != 0)
      return make_error(r.name_ + ": bad stream header");
    r.cipher_.resize(kCipherChunkV1);
    return std::optional<BlobReader>(std::move(r));
  }
  if (r.source_->size() < kPrefix + kTag) return make_error(r.name_ + ": blob is truncated");
  const std::uint64_t body = r.source_->size() - kPrefix;
  r.chunks_ = (body + kCipherChunkV2 - 1) / kCipherChunkV2;
  const std::uint64_t last = body - (r.chunks_ - 1) * kCipherChunkV2;
  if (last < kTag) return make_error(r.name_ + ": blob is truncated");
  r.last_plain_ = static_cast<std::size_t>(last - kTag);
  r.size_ = (r.chunks_ - 1) * kBlobChunkSize + r.last_plain_;
  auto gcm = AesGcm::create(AesGcm::Mode::open, key.bytes);
  if (!gcm) return make_error(r.name_ + ": " + gcm.error().message);
  r.gcm_.emplace(std::move(*gcm));
  r.plain_.reserve(kBlobChunkSize);
  return std::optional<BlobReader>(std::move(r));
}

Status BlobStore::remove(const std::string& id) const {
  if (!valid_id(id)) return make_error("invalid blob id");
  return backend_->remove(id);
}

bool BlobStore::exists(const std::string& id) const {
  if (!valid_id(id)) return false;
  auto there = backend_->exists(id);
  return there && *there;
}

Result<std::vector<StoredObject>> BlobStore::list_blobs() const { return backend_->list(); }

Result<std::vector<UnfinishedObject>> BlobStore::list_unfinished() const {
  return backend_->list_unfinished();
}

Status BlobStore::remove_unfinished(const UnfinishedObject& object) const {
  return backend_->remove_unfinished(object);
}

PendingBlobs::~PendingBlobs() {
  for (const auto& id : ids_) (void)store_.remove(id);
}

}  // namespace attachgate::store
