// store/blob_store.cc - see blob_store.h.
//
// File layout: magic "AGBLOB1\n" (8) | wrap nonce (24) | wrapped key (32+16)
// | secretstream header (24) | chunks. Every chunk but the last holds exactly
// kBlobChunkSize plaintext bytes; the last holds 0..kBlobChunkSize and carries
// TAG_FINAL, so a file cut at any byte fails to authenticate.
#include "store/blob_store.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/secrets.h"

namespace attachgate::store {
namespace {

constexpr char kMagic[8] = {'A', 'G', 'B', 'L', 'O', 'B', '1', '\n'};
constexpr std::size_t kWrapNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kWrappedKey =
    crypto_secretstream_xchacha20poly1305_KEYBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t kStreamHeader = crypto_secretstream_xchacha20poly1305_HEADERBYTES;
constexpr std::size_t kHeaderSize = sizeof kMagic + kWrapNonce + kWrappedKey + kStreamHeader;
constexpr std::size_t kCipherChunk = kBlobChunkSize + crypto_secretstream_xchacha20poly1305_ABYTES;

const unsigned char* id_bytes(const std::string& id) {
  return reinterpret_cast<const unsigned char*>(id.data());
}


}  // namespace

// ---- BlobWriter -------------------------------------------------------------

BlobWriter::BlobWriter(BlobWriter&& o) noexcept
    : id_(std::move(o.id_)), tmp_path_(std::move(o.tmp_path_)),
      final_dir_(std::move(o.final_dir_)), final_path_(std::move(o.final_path_)),
      blobs_dir_(std::move(o.blobs_dir_)), fd_(std::move(o.fd_)), stream_(o.stream_),
      hash_(std::move(o.hash_)), plain_(std::move(o.plain_)), cipher_(std::move(o.cipher_)),
      size_(o.size_), done_(o.done_) {
  o.done_ = true;
}

BlobWriter::~BlobWriter() {
  if (!done_) {
    fd_.reset();
    ::unlink(tmp_path_.c_str());
  }
  sodium_memzero(&stream_, sizeof stream_);
}

Status BlobWriter::seal(unsigned char tag) {
  unsigned long long out_len = 0;
  crypto_secretstream_xchacha20poly1305_push(&stream_, cipher_.data(), &out_len, plain_.data(),
                                             plain_.size(), nullptr, 0, tag);
  plain_.clear();
  return write_all(fd_.get(), cipher_.data(), static_cast<std::size_t>(out_len));
}

Status BlobWriter::write(const void* data, std::size_t size) {
  if (done_) panic("BlobWriter::write after commit");
  const auto* p = static_cast<const unsigned char*>(data);
  hash_.update(p, size);
  size_ += size;
  while (size > 0) {
    // Seal a full chunk only once more data arrives: the last chunk must
    // carry TAG_FINAL, and we learn which one is last only at commit().
    if (plain_.size() == kBlobChunkSize) {
      if (auto s = seal(0); !s) return s;
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
  if (auto s = seal(crypto_secretstream_xchacha20poly1305_TAG_FINAL); !s) return s.error();
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
  return BlobInfo{id_, size_, hash_.final_hex()};
}

// ---- BlobReader -------------------------------------------------------------

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

Result<std::size_t> BlobReader::read(void* data, std::size_t size) {
  while (pos_ == plain_.size()) {
    if (final_) return std::size_t{0};
    if (auto s = next_chunk(); !s) return s.error();
  }
  std::size_t take = std::min(size, plain_.size() - pos_);
  std::memcpy(data, plain_.data() + pos_, take);
  pos_ += take;
  return take;
}

Status BlobReader::skip(std::uint64_t bytes) {
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

  unsigned char header[kHeaderSize];
  unsigned char* p = header;
  std::memcpy(p, kMagic, sizeof kMagic);
  p += sizeof kMagic;
  unsigned char* nonce = p;
  randombytes_buf(nonce, kWrapNonce);
  p += kWrapNonce;
  unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
  crypto_secretstream_xchacha20poly1305_keygen(key);
  crypto_aead_xchacha20poly1305_ietf_encrypt(p, nullptr, key, sizeof key, id_bytes(w.id_),
                                             w.id_.size(), nullptr, nonce, wrap_key_.data());
  p += kWrappedKey;
  crypto_secretstream_xchacha20poly1305_init_push(&w.stream_, p, key);
  sodium_memzero(key, sizeof key);
  w.plain_.reserve(kBlobChunkSize);
  w.cipher_.resize(kCipherChunk);
  if (auto s = write_all(w.fd_.get(), header, sizeof header); !s) return s.error();
  return w;
}

Result<BlobReader> BlobStore::open_blob(const std::string& id) const {
  if (!valid_id(id)) return make_error("invalid blob id");
  BlobReader r;
  r.path_ = path_of(id);
  r.fd_ = UniqueFd(::open(r.path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!r.fd_.valid()) return make_error(errno_text("cannot open blob " + r.path_));
  unsigned char header[kHeaderSize];
  auto got = read_full(r.fd_.get(), header, sizeof header);
  if (!got) return got.error();
  if (*got != sizeof header || std::memcmp(header, kMagic, sizeof kMagic) != 0)
    return make_error(r.path_ + ": not a blob, or its header is truncated");
  const unsigned char* nonce = header + sizeof kMagic;
  const unsigned char* wrapped = nonce + kWrapNonce;
  unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(key, nullptr, nullptr, wrapped, kWrappedKey,
                                                 id_bytes(id), id.size(), nonce,
                                                 wrap_key_.data()) != 0)
    return make_error(r.path_ + ": blob key does not unwrap (wrong master key, or tampered)");
  int rc = crypto_secretstream_xchacha20poly1305_init_pull(&r.stream_, wrapped + kWrappedKey, key);
  sodium_memzero(key, sizeof key);
  if (rc != 0) return make_error(r.path_ + ": bad stream header");
  r.cipher_.resize(kCipherChunk);
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
