// store/blob_store.h - encrypted, content-hashed blobs in a BlobBackend.
//
// A blob is written through a BlobWriter in any number of pieces and never
// held whole in memory: plaintext is cut into 64 KiB chunks, each sealed with
// AES-256-GCM (format v2; v1 blobs, sealed with libsodium's secretstream, are
// still read) under a random per-blob key that is itself wrapped by the state
// directory's blob key (bound to the blob id). commit() writes the final
// chunk and has the back end make the object durable (blob_backend.h: local
// files by default, or an S3-compatible store, which sees only ciphertext);
// a writer dropped before commit() leaves nothing behind. Reading authenticates every
// chunk before handing out its bytes: a tampered, truncated or swapped blob
// is an Error, never bytes. Blob ids are generated here, never from a URL.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sodium.h>

#include "store/aes_gcm.h"
#include "store/blob_backend.h"
#include "store/keys.h"
#include "store/sha256.h"
#include "util/result.h"

namespace attachgate::store {

struct BlobInfo {
  std::string id;          // 32 lowercase hex characters
  std::uint64_t size = 0;  // plaintext bytes
  std::string sha256;      // of the plaintext, lowercase hex
};

inline constexpr std::size_t kBlobChunkSize = 64 * 1024;

class BlobWriter {
 public:
  BlobWriter(BlobWriter&&) noexcept = default;
  BlobWriter& operator=(BlobWriter&&) = delete;
  ~BlobWriter() = default;  // an unfinished sink removes what it wrote

  Status write(const void* data, std::size_t size);
  Result<BlobInfo> commit();

 private:
  friend class BlobStore;
  BlobWriter() = default;
  Status seal(bool final);

  std::string id_;
  std::unique_ptr<ObjectSink> sink_;
  std::optional<AesGcm> gcm_;
  std::uint64_t chunk_index_ = 0;
  Sha256 hash_;
  std::vector<unsigned char> plain_;  // room for a chunk and its tag
  std::uint64_t size_ = 0;
  bool done_ = false;
};

class BlobReader {
 public:
  BlobReader(BlobReader&&) noexcept = default;
  BlobReader& operator=(BlobReader&&) noexcept = default;
  ~BlobReader();

  // Reads up to size bytes of plaintext, never past the end of a chunk; 0
  // means the authenticated end. Asked for a whole chunk at a chunk
  // boundary, it decrypts straight into data.
  Result<std::size_t> read(void* data, std::size_t size);
  // Moves forward; for Range requests. Skipping past the end is an Error.
  // v2 seeks to the chunk holding the target and decrypts only that one.
  Status skip(std::uint64_t bytes);

 private:
  friend class BlobStore;
  BlobReader() = default;
  bool v2() const { return gcm_.has_value(); }
  Status next_chunk();  // v1
  Result<std::size_t> read_next(void* data, std::size_t size);  // v1, from cursor_
  Status skip_v1(std::uint64_t bytes);
  std::size_t chunk_plain_size(std::uint64_t index) const;  // v2
  Status open_chunk(std::uint64_t index, unsigned char* out);  // v2
  Status buffer_chunk(std::uint64_t index);  // v2, into plain_

  std::string name_;  // for messages
  std::unique_ptr<ObjectSource> source_;
  std::uint64_t cursor_ = 0;  // v1: the next byte of the object to read
  crypto_secretstream_xchacha20poly1305_state stream_{};  // v1
  std::optional<AesGcm> gcm_;  // v2
  std::vector<unsigned char> plain_, cipher_;
  std::size_t pos_ = 0;
  bool final_ = false;
  // v2: the layout follows from the object's size at open (objects are
  // immutable once finished).
  std::uint64_t chunks_ = 0, next_index_ = 0, offset_ = 0, size_ = 0;
  std::size_t last_plain_ = 0;
};

class BlobStore {
 public:
  // By config.url (blob_backend.h); by default `<state_dir>/blobs`, created
  // (0700) if needed.
  static Result<BlobStore> open(const std::string& state_dir, const KeyRing& keys,
                                const BlobsConfig& config = {});

  Result<BlobWriter> create() const;
  // A blob that is not there is an Error here; find_blob() tells it apart.
  Result<BlobReader> open_blob(const std::string& id) const;
  // nullopt: the back end has no such blob (deleted behind our back).
  Result<std::optional<BlobReader>> find_blob(const std::string& id) const;
  Status remove(const std::string& id) const;
  // False too when the back end cannot be asked.
  bool exists(const std::string& id) const;

  // For start-up reconciliation.
  Result<std::vector<StoredObject>> list_blobs() const;
  Result<std::vector<UnfinishedObject>> list_unfinished() const;
  Status remove_unfinished(const UnfinishedObject& object) const;
  // The local blob directory; "" for a remote back end.
  std::string dir() const { return backend_->local_dir(); }
  const std::string& where() const { return backend_->where(); }
  BlobUrl::Kind kind() const { return backend_->kind(); }

  static bool valid_id(const std::string& id);

 private:
  std::shared_ptr<const BlobBackend> backend_;
  Key wrap_key_{};
};

// Blobs written for one message or upload. Unless keep() is called, the
// destructor removes them all, so a failed catalog transaction leaves no
// blob behind.
class PendingBlobs {
 public:
  explicit PendingBlobs(const BlobStore& store) : store_(store) {}
  ~PendingBlobs();
  PendingBlobs(const PendingBlobs&) = delete;
  PendingBlobs& operator=(const PendingBlobs&) = delete;

  void add(const std::string& id) { ids_.push_back(id); }
  void keep() { ids_.clear(); }
  const std::vector<std::string>& ids() const { return ids_; }

 private:
  const BlobStore& store_;
  std::vector<std::string> ids_;
};

}  // namespace attachgate::store
