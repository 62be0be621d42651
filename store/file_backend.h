// store/file_backend.h - blob objects as files under one local directory.
//
// Layout: DIR/xx/ID (xx = the id's first two characters) and DIR/tmp/ for
// writes in progress. Durability is Postfix's protocol: write to tmp/,
// fsync, rename into place, fsync the directory; a sink dropped before
// finish() unlinks its temporary file. Paths are built from validated blob
// ids only, never from a URL.
#pragma once

#include <string>

#include "store/blob_backend.h"

namespace attachgate::store {

class FileBackend : public BlobBackend {
 public:
  // Creates DIR and DIR/tmp (0700) if needed.
  static Result<std::shared_ptr<const FileBackend>> at(const std::string& dir);

  const std::string& where() const override { return dir_; }
  BlobUrl::Kind kind() const override { return BlobUrl::Kind::file; }
  std::string local_dir() const override { return dir_; }
  Result<std::unique_ptr<ObjectSink>> create(const std::string& id) const override;
  Result<std::unique_ptr<ObjectSource>> open(const std::string& id) const override;
  Status remove(const std::string& id) const override;
  Result<bool> exists(const std::string& id) const override;
  Result<std::vector<StoredObject>> list() const override;
  Result<std::vector<UnfinishedObject>> list_unfinished() const override;
  Status remove_unfinished(const UnfinishedObject& object) const override;

 private:
  explicit FileBackend(std::string dir) : dir_(std::move(dir)) {}
  std::string path_of(const std::string& id) const;
  std::string dir_;
};

}  // namespace attachgate::store
