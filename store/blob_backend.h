// store/blob_backend.h - where a blob's sealed bytes are kept: the seam
// between the blob format (blob_store.h) and a place to put objects.
//
// A back end stores opaque, immutable objects named by blob id. It only
// ever sees ciphertext: BlobWriter seals before it writes and BlobReader
// authenticates after it reads, so a back end need not be trusted with
// anything but availability. An object appears whole at ObjectSink::finish()
// or not at all; a sink dropped before that leaves nothing behind. Reads are
// positional, so a reader can seek by chunk. file_backend.h keeps objects in
// a local directory (the default), s3_backend.h in an S3-compatible store.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "util/blob_url.h"
#include "util/result.h"

namespace attachgate::store {

class ObjectSink {
 public:
  virtual ~ObjectSink() = default;
  virtual Status write(const void* data, std::size_t size) = 0;
  // Makes the object durable and visible under its id.
  virtual Status finish() = 0;
};

class ObjectSource {
 public:
  virtual ~ObjectSource() = default;
  // The object's size when it was opened (objects are immutable).
  virtual std::uint64_t size() const = 0;
  // Fills the buffers from offset on; short only where the object ends.
  virtual Result<std::size_t> read_at(std::uint64_t offset, iovec* iov, int count) = 0;
};

struct StoredObject {
  std::string id;
  std::int64_t modified = 0;  // unix seconds
};

// A write that never finished: a temporary file, an open multipart upload.
struct UnfinishedObject {
  std::string name;  // as the back end lists it, for remove_unfinished()
  std::int64_t started = 0;  // unix seconds
};

class BlobBackend {
 public:
  virtual ~BlobBackend() = default;
  // For messages: the directory, or the s3:// location and endpoint.
  virtual const std::string& where() const = 0;
  virtual BlobUrl::Kind kind() const = 0;
  // The local directory (a writers' lock lives there), or "" if remote.
  virtual std::string local_dir() const { return ""; }

  virtual Result<std::unique_ptr<ObjectSink>> create(const std::string& id) const = 0;
  // nullptr: there is no such object (distinct from failing to ask).
  virtual Result<std::unique_ptr<ObjectSource>> open(const std::string& id) const = 0;
  // Removing what is not there succeeds.
  virtual Status remove(const std::string& id) const = 0;
  virtual Result<bool> exists(const std::string& id) const = 0;
  // Every finished object whose name is a valid blob id.
  virtual Result<std::vector<StoredObject>> list() const = 0;
  virtual Result<std::vector<UnfinishedObject>> list_unfinished() const = 0;
  virtual Status remove_unfinished(const UnfinishedObject& object) const = 0;
};

// Which back end, from the [blobs] settings.
struct BlobsConfig {
  std::string url;               // "": file:<state_dir>/blobs
  std::string credentials_file;  // s3: "" reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
};

Result<std::shared_ptr<const BlobBackend>> open_blob_backend(const std::string& state_dir,
                                                             const BlobsConfig& config);

}  // namespace attachgate::store
