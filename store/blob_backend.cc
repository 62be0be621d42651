// store/blob_backend.cc - the back end a [blobs] url names.
#include "store/blob_backend.h"

#include "store/file_backend.h"
#include "store/s3_backend.h"
#include "store/s3_credentials.h"
#include "util/blob_url.h"

namespace attachgate::store {

Result<std::shared_ptr<const BlobBackend>> open_blob_backend(const std::string& state_dir,
                                                             const BlobsConfig& config) {
  if (config.url.empty()) {
    auto files = FileBackend::at(state_dir + "/blobs");
    if (!files) return files.error();
    return std::shared_ptr<const BlobBackend>(std::move(*files));
  }
  auto url = parse_blob_url(config.url);
  if (!url) return make_error("[blobs] url " + url.error().message);
  if (url->kind == BlobUrl::Kind::file) {
    auto files = FileBackend::at(url->dir);
    if (!files) return files.error();
    return std::shared_ptr<const BlobBackend>(std::move(*files));
  }
  auto credentials = load_s3_credentials(config.credentials_file);
  if (!credentials) return credentials.error();
  auto s3 = S3Backend::at(*url, std::move(*credentials));
  if (!s3) return s3.error();
  return std::shared_ptr<const BlobBackend>(std::move(*s3));
}

}  // namespace attachgate::store
