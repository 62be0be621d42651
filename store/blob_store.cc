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
#include "store/blob_store.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

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

// Like read_full, at an offset and into several buffers (chunk and tag).
Result<std::size_t> pread_full(int fd, iovec* iov, int count, std::uint64_t offset) {
  std::size_t got = 0;
  while (count > 0) {
    ssize_t n = ::preadv(fd, iov, count, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(errno_text("read"));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
    for (auto left = static_cast<std::size_t>(n); count > 0;) {
      if (left < iov->iov_len) {
        iov->iov_base = static_cast<char*>(iov->iov_base) + left;
        iov->iov_len -= left;
        break;
      }
      left -= iov->iov_len;
      ++iov;
      --count;
    }
  }
  return got;
}

}  // namespace

// ---- BlobWriter (always v2) ------------------------------------------------

BlobWriter::BlobWriter(BlobWriter&& o) noexcept
    : id_(std::move(o.id_)), tmp_path_(std::move(o.tmp_path_)),
      final_dir_(std::move(o.final_dir_)), final_path_(std::move(o.final_path_)),
      blobs_dir_(std::move(o.blobs_dir_)), fd_(std::move(o.fd_)), gcm_(std::move(o.gcm_)),
      chunk_index_(o.chunk_index_), hash_(std::move(o.hash_)), plain_(std::move(o.plain_)),
      size_(o.size_), done_(o.done_) {
  o.done_ = true;
}

BlobWriter::~BlobWriter() {
  if (!done_) {
    fd_.reset();
    ::unlink(tmp_path_.c_str());
  }
}

// Seals plain_ in place, appends its tag and writes both.
Status BlobWriter::seal(bool final) {
  const std::size_t n = plain_.size();
  unsigned char nonce[AesGcm::kNonceBytes];
  chunk_nonce(chunk_index_++, nonce);
  const unsigned char aad = final ? 1 : 0;
  plain_.resize(n + kTag);
  Status s = gcm_->seal(nonce, &aad, 1, plain_.data(), n, plain_.data(), plain_.data() + n);
  if (s) s = write_all(fd_.get(), plain_.data(), plain_.size());
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
  if (auto s = fsync_fd(fd_.get(), tmp_path_); !s) return s.error();
  fd_.reset();
  bool new_dir = ::mkdir(final_dir_.c_str(), 0700) == 0;
  if (!new_dir && errno != EEXIST) return make_error(errno_text("mkdir " + final_dir_));
  if (new_dir) {
    if (auto s = fsync_dir(blobs_dir_); !s) return s.error();
  }
  if (::rename(tmp_path_.c_str(), final_path_.c_str()) != 0)
    return make_error(errno_text("rename " + tmp_path_));
  done_ = true;  // from here the blob exists; a failing dir fsync is reported but keeps it
  if (auto s = fsync_dir(final_dir_); !s) {
    ::unlink(final_path_.c_str());
    return s.error();
  }
  fault_point("blob_committed");  // the blob is in place, its row not yet
  return BlobInfo{id_, size_, hash_.final_hex()};
}

// ---- BlobReader -------------------------------------------------------------

BlobReader::~BlobReader() { sodium_memzero(&stream_, sizeof stream_); }

Status BlobReader::next_chunk() {
  auto got = read_full(fd_.get(), cipher_.data(), cipher_.size());
  if (!got) return got.error();
  if (*got < crypto_secretstream_xchacha20poly1305_ABYTES)
    return make_error(path_ + ": blob is truncated");
  plain_.resize(kBlobChunkSize);
  unsigned long long plain_len = 0;
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(&stream_, plain_.data(), &plain_len, &tag,
                                                 cipher_.data(), *got, nullptr, 0) != 0)
    return make_error(path_ + ": blob failed authentication (tampered or damaged)");
  plain_.resize(static_cast<std::size_t>(plain_len));
  pos_ = 0;
  if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
    unsigned char extra;
    auto more = read_full(fd_.get(), &extra, 1);
    if (!more) return more.error();
    if (*more != 0) return make_error(path_ + ": blob has data after its final chunk");
    final_ = true;
  } else if (*got < cipher_.size()) {
    return make_error(path_ + ": blob is truncated");
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
  auto got = pread_full(fd_.get(), iov, last ? 3 : 2, kPrefix + index * kCipherChunkV2);
  if (!got) return got.error();
  // The layout came from the size at open; a file changed since is damaged.
  if (*got < n + kTag) return make_error(path_ + ": blob is truncated");
  if (*got > n + kTag) return make_error(path_ + ": blob has data after its final chunk");
  unsigned char nonce[AesGcm::kNonceBytes];
  chunk_nonce(index, nonce);
  const unsigned char aad = last ? 1 : 0;
  if (auto s = gcm_->open(nonce, &aad, 1, out, n, out, tag); !s)
    return make_error(path_ + ": blob chunk " + std::to_string(index) + ": " + s.error().message);
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
      if (final_) return make_error(path_ + ": skip past the end of the blob");
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
  if (bytes > size_ - offset_) return make_error(path_ + ": skip past the end of the blob");
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

Result<BlobStore> BlobStore::open(const std::string& state_dir, const KeyRing& keys) {
  init_sodium();
  BlobStore store;
  store.dir_ = state_dir + "/blobs";
  if (auto s = make_dirs(store.dir_ + "/tmp", 0700); !s) return s.error();
  store.wrap_key_ = keys.blob_wrap_key();
  return store;
}

bool BlobStore::valid_id(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string BlobStore::path_of(const std::string& id) const {
  if (!valid_id(id)) panic("blob id is not 32 hex characters");
  return dir_ + "/" + id.substr(0, 2) + "/" + id;
}

Result<BlobWriter> BlobStore::create() const {
  BlobWriter w;
  w.id_ = new_public_id(16);
  w.blobs_dir_ = dir_;
  w.final_dir_ = dir_ + "/" + w.id_.substr(0, 2);
  w.final_path_ = path_of(w.id_);
  w.tmp_path_ = dir_ + "/tmp/" + w.id_ + ".tmp";
  w.fd_ = UniqueFd(::open(w.tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!w.fd_.valid()) {
    w.done_ = true;  // nothing to unlink
    return make_error(errno_text("cannot create " + w.tmp_path_));
  }

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
  if (auto s = write_all(w.fd_.get(), header, sizeof header); !s) return s.error();
  return w;
}

Result<BlobReader> BlobStore::open_blob(const std::string& id) const {
  if (!valid_id(id)) return make_error("invalid blob id");
  BlobReader r;
  r.path_ = path_of(id);
  r.fd_ = UniqueFd(::open(r.path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!r.fd_.valid()) return make_error(errno_text("cannot open blob " + r.path_));
  unsigned char header[kPrefix + kStreamHeader];
  auto got = read_full(r.fd_.get(), header, kPrefix);
  if (!got) return got.error();
  const bool v1 = *got == kPrefix && std::memcmp(header, kMagicV1, kMagic) == 0;
  const bool v2 = *got == kPrefix && std::memcmp(header, kMagicV2, kMagic) == 0;
  if (v1) {
    got = read_full(r.fd_.get(), header + kPrefix, kStreamHeader);
    if (!got) return got.error();
  }
  if (!(v2 || (v1 && *got == kStreamHeader)))
    return make_error(r.path_ + ": not a blob, or its header is truncated");
  const unsigned char* nonce = header + kMagic;
  const unsigned char* wrapped = nonce + kWrapNonce;
  BlobKey key;
  const std::string ad = wrap_ad(v2, id);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(key.bytes, nullptr, nullptr, wrapped, kWrappedKey,
                                                 bytes_of(ad), ad.size(), nonce,
                                                 wrap_key_.data()) != 0)
    return make_error(r.path_ + ": blob key does not unwrap (wrong master key, or tampered)");
  if (v1) {
    if (crypto_secretstream_xchacha20poly1305_init_pull(&r.stream_, header + kPrefix, key.bytes) != 0)
      return make_error(r.path_ + ": bad stream header");
    r.cipher_.resize(kCipherChunkV1);
    return r;
  }
  struct stat st {};
  if (::fstat(r.fd_.get(), &st) != 0) return make_error(errno_text("stat " + r.path_));
  if (!S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) < kPrefix + kTag)
    return make_error(r.path_ + ": blob is truncated");
  const std::uint64_t body = static_cast<std::uint64_t>(st.st_size) - kPrefix;
  r.chunks_ = (body + kCipherChunkV2 - 1) / kCipherChunkV2;
  const std::uint64_t last = body - (r.chunks_ - 1) * kCipherChunkV2;
  if (last < kTag) return make_error(r.path_ + ": blob is truncated");
  r.last_plain_ = static_cast<std::size_t>(last - kTag);
  r.size_ = (r.chunks_ - 1) * kBlobChunkSize + r.last_plain_;
  auto gcm = AesGcm::create(AesGcm::Mode::open, key.bytes);
  if (!gcm) return make_error(r.path_ + ": " + gcm.error().message);
  r.gcm_.emplace(std::move(*gcm));
  r.plain_.reserve(kBlobChunkSize);
  return r;
}

Status BlobStore::remove(const std::string& id) const {
  if (!valid_id(id)) return make_error("invalid blob id");
  std::string path = path_of(id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return make_error(errno_text("unlink " + path));
  return {};
}

bool BlobStore::exists(const std::string& id) const {
  struct stat st {};
  return valid_id(id) && ::stat(path_of(id).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

static std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return names;
  while (dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  return names;
}

std::vector<std::string> BlobStore::list_blob_ids() const {
  std::vector<std::string> ids;
  for (const auto& sub : dir_entries(dir_)) {
    if (sub.size() != 2) continue;
    for (const auto& name : dir_entries(dir_ + "/" + sub))
      if (valid_id(name) && name.compare(0, 2, sub) == 0) ids.push_back(name);
  }
  return ids;
}

std::vector<std::string> BlobStore::list_temp_files() const {
  std::vector<std::string> paths;
  for (const auto& name : dir_entries(dir_ + "/tmp")) paths.push_back(dir_ + "/tmp/" + name);
  return paths;
}

PendingBlobs::~PendingBlobs() {
  for (const auto& id : ids_) (void)store_.remove(id);
}

}  // namespace attachgate::store
