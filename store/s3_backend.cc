// store/s3_backend.cc - see s3_backend.h.
#include "store/s3_backend.h"

#include <algorithm>
#include <cstring>

#include "store/blob_store.h"

namespace attachgate::store {
namespace {

bool ok_status(long status) { return status >= 200 && status < 300; }

class S3Sink : public ObjectSink {
 public:
  S3Sink(std::shared_ptr<const S3Location> where, std::string key)
      : client_(std::move(where)), key_(std::move(key)) {}
  ~S3Sink() override { abort(); }

  Status write(const void* data, std::size_t size) override {
    const auto* p = static_cast<const unsigned char*>(data);
    while (size > 0) {
      if (buffer_.empty()) buffer_.reserve(kS3PartSize);
      const std::size_t take = std::min(size, kS3PartSize - buffer_.size());
      buffer_.insert(buffer_.end(), p, p + take);
      p += take;
      size -= take;
      if (buffer_.size() == kS3PartSize)
        if (auto s = upload_part(); !s) return fail(s);
    }
    return {};
  }

  Status finish() override {
    if (upload_id_.empty()) {  // smaller than a part: one PUT
      S3Request put{.method = "PUT", .key = key_, .body = buffer_.data(),
                    .body_size = buffer_.size(), .content_type = "application/octet-stream"};
      if (auto s = expect_ok(put); !s) return s;
      release_buffer();
      return {};
    }
    if (!buffer_.empty())
      if (auto s = upload_part(); !s) return fail(s);
    std::string xml = "<CompleteMultipartUpload>";
    for (std::size_t i = 0; i < etags_.size(); ++i)
      xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags_[i] +
             "</ETag></Part>";
    xml += "</CompleteMultipartUpload>";
    S3Request complete{.method = "POST", .key = key_, .query = "uploadId=" + s3_escape(upload_id_),
                       .body = xml.data(), .body_size = xml.size(),
                       .content_type = "application/xml"};
    auto done = client_.perform(complete);
    if (!done) return fail(done.error());
    // S3 can answer 200 and put the error in the body.
    if (!ok_status(done->status) || done->body.find("<Error>") != std::string::npos)
      return fail(make_error(client_.failure(complete, *done)));
    upload_id_.clear();
    return {};
  }

 private:
  Status expect_ok(const S3Request& request, S3Response* out = nullptr) {
    auto got = client_.perform(request);
    if (!got) return got.error();
    if (!ok_status(got->status)) return make_error(client_.failure(request, *got));
    if (out) *out = std::move(*got);
    return {};
  }

  Status upload_part() {
    if (upload_id_.empty()) {
      S3Request begin{.method = "POST", .key = key_, .query = "uploads=",
                      .content_type = "application/octet-stream"};
      S3Response answer;
      if (auto s = expect_ok(begin, &answer); !s) return s;
      auto ids = xml_values(answer.body, "UploadId");
      if (ids.empty() || ids[0].empty())
        return make_error(client_.failure(begin, answer) + ": no UploadId in the answer");
      upload_id_ = ids[0];
    }
    S3Request part{.method = "PUT", .key = key_,
                   .query = "partNumber=" + std::to_string(etags_.size() + 1) +
                            "&uploadId=" + s3_escape(upload_id_),
                   .body = buffer_.data(), .body_size = buffer_.size()};
    S3Response answer;
    if (auto s = expect_ok(part, &answer); !s) return s;
    if (answer.etag.empty()) return make_error(client_.failure(part, answer) + ": no ETag");
    std::string etag;
    for (char c : answer.etag) {
      if (c == '&') etag += "&amp;";
      else if (c == '<') etag += "&lt;";
      else if (c == '>') etag += "&gt;";
      else etag += c;
    }
    etags_.push_back(std::move(etag));
    buffer_.clear();
    return {};
  }

  Status fail(const Status& s) {
    abort();
    release_buffer();
    return s;
  }

  void release_buffer() { std::vector<unsigned char>().swap(buffer_); }

  // Best effort: a failed abort leaves an upload that list_unfinished()
  // finds at the next start (or a lifecycle rule ends).
  void abort() {
    if (upload_id_.empty()) return;
    S3Request del{.method = "DELETE", .key = key_, .query = "uploadId=" + s3_escape(upload_id_)};
    (void)client_.perform(del);
    upload_id_.clear();
  }

  S3Client client_;
  std::string key_, upload_id_;
  std::vector<std::string> etags_;
  std::vector<unsigned char> buffer_;
};

class S3Source : public ObjectSource {
 public:
  S3Source(std::shared_ptr<const S3Location> where, std::string key, std::uint64_t size)
      : client_(std::move(where)), key_(std::move(key)), size_(size) {}
  std::uint64_t size() const override { return size_; }

  Result<std::size_t> read_at(std::uint64_t offset, iovec* iov, int count) override {
    std::uint64_t want = 0;
    for (int i = 0; i < count; ++i) want += iov[i].iov_len;
    if (offset >= size_) return std::size_t{0};
    want = std::min(want, size_ - offset);
    if (offset < window_at_ || offset + want > window_at_ + window_.size())
      if (auto s = fetch(offset, std::max<std::uint64_t>(want, kS3ReadWindow)); !s) return s.error();
    const char* from = window_.data() + (offset - window_at_);
    std::size_t left = static_cast<std::size_t>(want);
    for (int i = 0; i < count && left > 0; ++i) {
      const std::size_t n = std::min(left, iov[i].iov_len);
      std::memcpy(iov[i].iov_base, from, n);
      from += n;
      left -= n;
    }
    return static_cast<std::size_t>(want);
  }

 private:
  Status fetch(std::uint64_t offset, std::uint64_t length) {
    length = std::min(length, size_ - offset);
    window_.clear();
    S3Request get{.key = key_, .range = std::make_pair(offset, offset + length - 1),
                  .max_response = static_cast<std::size_t>(length)};
    auto got = client_.perform(get);
    if (!got) return got.error();
    if (got->status == 404)
      return make_error(client_.failure(get, *got) + ": the object is gone from the store");
    const bool whole = got->status == 200 && offset == 0 && length == size_;
    if (got->status != 206 && !whole) return make_error(client_.failure(get, *got));
    if (got->body.size() != length)
      return make_error(client_.failure(get, *got) + ": got " + std::to_string(got->body.size()) +
                        " bytes of " + std::to_string(length) + " (the object changed?)");
    window_ = std::move(got->body);
    window_at_ = offset;
    return {};
  }

  S3Client client_;
  std::string key_;
  std::uint64_t size_;
  std::string window_;
  std::uint64_t window_at_ = 0;
};

}  // namespace

S3Backend::S3Backend(std::shared_ptr<const S3Location> location, std::string prefix)
    : location_(std::move(location)), prefix_(std::move(prefix)) {
  where_ = "s3://" + location_->bucket + "/" + prefix_ + " at " + location_->endpoint;
}

Result<std::shared_ptr<const S3Backend>> S3Backend::at(const BlobUrl& url,
                                                       S3Credentials credentials) {
  auto location = std::make_shared<const S3Location>(
      S3Location{url.endpoint, url.bucket, url.region, std::move(credentials)});
  return std::shared_ptr<const S3Backend>(new S3Backend(std::move(location), url.prefix));
}

Result<std::unique_ptr<ObjectSink>> S3Backend::create(const std::string& id) const {
  return std::unique_ptr<ObjectSink>(new S3Sink(location_, key_of(id)));
}

Result<std::unique_ptr<ObjectSource>> S3Backend::open(const std::string& id) const {
  S3Client client(location_);
  S3Request head{.method = "HEAD", .key = key_of(id)};
  auto got = client.perform(head);
  if (!got) return got.error();
  if (got->status == 404) return std::unique_ptr<ObjectSource>();
  if (got->status != 200) return make_error(client.failure(head, *got));
  return std::unique_ptr<ObjectSource>(new S3Source(location_, key_of(id), got->content_length));
}

Status S3Backend::remove(const std::string& id) const {
  S3Client client(location_);
  S3Request del{.method = "DELETE", .key = key_of(id)};
  auto got = client.perform(del);
  if (!got) return got.error();
  if (!ok_status(got->status) && got->status != 404) return make_error(client.failure(del, *got));
  return {};
}

Result<bool> S3Backend::exists(const std::string& id) const {
  S3Client client(location_);
  S3Request head{.method = "HEAD", .key = key_of(id)};
  auto got = client.perform(head);
  if (!got) return got.error();
  if (got->status == 404) return false;
  if (got->status != 200) return make_error(client.failure(head, *got));
  return true;
}

Result<std::vector<StoredObject>> S3Backend::list() const {
  S3Client client(location_);
  std::vector<StoredObject> out;
  std::string token;
  for (;;) {
    // Canonical: parameters sorted, each with '='.
    std::string query;
    if (!token.empty()) query = "continuation-token=" + s3_escape(token) + "&";
    query += "list-type=2&prefix=" + s3_escape(prefix_);
    S3Request get{.query = query, .max_response = 16 << 20};
    auto got = client.perform(get);
    if (!got) return got.error();
    if (got->status != 200) return make_error(client.failure(get, *got));
    for (const auto& item : xml_values(got->body, "Contents")) {
      const auto keys = xml_values(item, "Key");
      const auto modified = xml_values(item, "LastModified");
      if (keys.empty() || keys[0].rfind(prefix_, 0) != 0) continue;
      std::string id = keys[0].substr(prefix_.size());
      if (!BlobStore::valid_id(id)) continue;
      out.push_back({std::move(id), modified.empty() ? 0 : s3_time(modified[0])});
    }
    const auto truncated = xml_values(got->body, "IsTruncated");
    const auto next = xml_values(got->body, "NextContinuationToken");
    if (truncated.empty() || truncated[0] != "true" || next.empty() || next[0].empty()) break;
    token = next[0];
  }
  return out;
}

Result<std::vector<UnfinishedObject>> S3Backend::list_unfinished() const {
  S3Client client(location_);
  S3Request get{.query = "prefix=" + s3_escape(prefix_) + "&uploads=", .max_response = 16 << 20};
  auto got = client.perform(get);
  if (!got) return got.error();
  std::vector<UnfinishedObject> out;
  // Not every S3-compatible store lists uploads (s3rver answers 501); a
  // lifecycle rule must end those (docs/security.md).
  if (got->status == 501 || got->status == 405) return out;
  if (got->status != 200) return make_error(client.failure(get, *got));
  for (const auto& item : xml_values(got->body, "Upload")) {
    const auto keys = xml_values(item, "Key");
    const auto ids = xml_values(item, "UploadId");
    const auto started = xml_values(item, "Initiated");
    if (keys.empty() || ids.empty() || keys[0].rfind(prefix_, 0) != 0 ||
        !BlobStore::valid_id(keys[0].substr(prefix_.size())))
      continue;
    out.push_back({keys[0] + "?" + ids[0], started.empty() ? 0 : s3_time(started[0])});
  }
  return out;
}

Status S3Backend::remove_unfinished(const UnfinishedObject& object) const {
  const auto q = object.name.find('?');
  if (q == std::string::npos) panic("not an S3 upload name");
  S3Client client(location_);
  S3Request del{.method = "DELETE", .key = object.name.substr(0, q),
                .query = "uploadId=" + s3_escape(object.name.substr(q + 1))};
  auto got = client.perform(del);
  if (!got) return got.error();
  if (!ok_status(got->status) && got->status != 404) return make_error(client.failure(del, *got));
  return {};
}

}  // namespace attachgate::store
