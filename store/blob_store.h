// store/blob_store.h - encrypted, content-hashed blobs on the local disk.
//
// A blob is written through a BlobWriter in any number of pieces and never
// held whole in memory: plaintext is cut into 64 KiB chunks, each sealed with
// crypto_secretstream_xchacha20poly1305 under a random per-blob key that is
// itself wrapped by the state directory's blob key (bound to the blob id).
// commit() writes the final chunk, fsyncs, renames into place and fsyncs the
// directory; a writer dropped before commit() leaves nothing behind. Reading
// authenticates every chunk: a tampered, truncated or swapped blob is an
// Error, never bytes. Blob ids are generated here, never taken from a URL.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <sodium.h>

#include "store/keys.h"
#include "store/sha256.h"
#include "util/fs_sync.h"
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
  BlobWriter(BlobWriter&&) noexcept;
  BlobWriter& operator=(BlobWriter&&) = delete;
  ~BlobWriter();

  Status write(const void* data, std::size_t size);
  Result<BlobInfo> commit();

 private:
  friend class BlobStore;
  BlobWriter() = default;
  Status seal(unsigned char tag);

  std::string id_, tmp_path_, final_dir_, final_path_, blobs_dir_;
  UniqueFd fd_;
  crypto_secretstream_xchacha20poly1305_state stream_{};
  Sha256 hash_;
  std::vector<unsigned char> plain_, cipher_;
  std::uint64_t size_ = 0;
  bool done_ = false;
};

class BlobReader {
 public:
  // Reads up to size bytes of plaintext; 0 means the authenticated end.
  Result<std::size_t> read(void* data, std::size_t size);
  // Skips plaintext (decrypting it: the stream cannot seek); for Range requests.
  Status skip(std::uint64_t bytes);

 private:
  friend class BlobStore;
  BlobReader() = default;
  Status next_chunk();

  std::string path_;
  UniqueFd fd_;
  crypto_secretstream_xchacha20poly1305_state stream_{};
  std::vector<unsigned char> plain_, cipher_;
  std::size_t pos_ = 0;
  bool final_ = false;
};

class BlobStore {
 public:
  // Uses `<state_dir>/blobs`, creating it (0700) if needed.
  static Result<BlobStore> open(const std::string& state_dir, const KeyRing& keys);

  Result<BlobWriter> create() const;
  Result<BlobReader> open_blob(const std::string& id) const;
  Status remove(const std::string& id) const;
  bool exists(const std::string& id) const;

  // For start-up reconciliation.
  std::vector<std::string> list_blob_ids() const;
  std::vector<std::string> list_temp_files() const;  // full paths
  const std::string& dir() const { return dir_; }

  static bool valid_id(const std::string& id);

 private:
  std::string path_of(const std::string& id) const;
  std::string dir_;
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
