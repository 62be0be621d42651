// store/s3_backend.h - blob objects in an S3-compatible store.
//
// Object key: PREFIX + blob id. Writes stream as a multipart upload in
// parts of kS3PartSize, so memory stays bounded whatever the blob's size; a
// blob smaller than one part is a single PUT. A sink dropped before
// finish(), or one whose upload failed, aborts its multipart upload so no
// parts are left to pay for. Reads are ranged GETs of a window of
// kS3ReadWindow bytes, never the whole object. What the store holds is
// ciphertext only (blob_store.h seals before writing). A 404 on open is
// "missing", not an Error; every other failure is an Error that names the
// endpoint and what to check.
#pragma once

#include "store/blob_backend.h"
#include "store/s3_client.h"
#include "util/blob_url.h"

namespace attachgate::store {

inline constexpr std::size_t kS3PartSize = 8 << 20;    // S3 wants >= 5 MiB but the last
inline constexpr std::size_t kS3ReadWindow = 2 << 20;  // 32 chunks per GET

class S3Backend : public BlobBackend {
 public:
  static Result<std::shared_ptr<const S3Backend>> at(const BlobUrl& url,
                                                     S3Credentials credentials);

  const std::string& where() const override { return where_; }
  BlobUrl::Kind kind() const override { return BlobUrl::Kind::s3; }
  Result<std::unique_ptr<ObjectSink>> create(const std::string& id) const override;
  Result<std::unique_ptr<ObjectSource>> open(const std::string& id) const override;
  Status remove(const std::string& id) const override;
  Result<bool> exists(const std::string& id) const override;
  Result<std::vector<StoredObject>> list() const override;
  // Multipart uploads begun under the prefix and never completed; `name`
  // is "KEY?UPLOAD_ID". Empty where the store does not implement the listing.
  Result<std::vector<UnfinishedObject>> list_unfinished() const override;
  Status remove_unfinished(const UnfinishedObject& object) const override;

 private:
  S3Backend(std::shared_ptr<const S3Location> location, std::string prefix);
  std::string key_of(const std::string& id) const { return prefix_ + id; }
  std::shared_ptr<const S3Location> location_;
  std::string prefix_, where_;
};

}  // namespace attachgate::store
