// web/api_upload.cc - the sinks an API upload streams into: the raw body
// of a PUT, or the parts of a multipart POST. Either way the file's bytes
// go straight into a BlobWriter (encrypted, hashed, one chunk in memory);
// the blob is committed and published only once the whole body arrived and
// the terms are good. A sink dropped early (a refused or cut-off upload)
// drops its writer, which leaves nothing behind.
#include <optional>
#include <string>
#include <vector>

#include "util/filename.h"
#include "util/log.h"
#include "util/text.h"
#include "util/units.h"
#include "web/api.h"
#include "web/content_headers.h"
#include "web/multipart.h"

namespace attachgate::web {
namespace {

constexpr std::size_t kMaxFieldBytes = 1024;

// A file being received: the writer, the byte count against the limit.
class IncomingFile {
 public:
  IncomingFile(Api& api, std::string filename, std::string_view content_type)
      : api_(api),
        content_type_(response_content_type(content_type)),
        filename_(sanitize_filename(filename, content_type_)) {}

  // 503 if the blob store refuses, 413 over the limit.
  std::optional<Response> open() {
    auto w = api_.store().blobs.create();
    if (!w) return failed("could not start", w.error().message);
    writer_.emplace(std::move(*w));
    return std::nullopt;
  }

  std::optional<Response> write(const char* data, std::size_t size) {
    if (!writer_) return api_error(503, "the file could not be stored; try again later");
    received_ += size;
    if (received_ > api_.config().max_upload) {
      writer_.reset();
      return api_error(413, "the file is over the limit of " + format_size(api_.config().max_upload));
    }
    if (auto s = writer_->write(data, size); !s) {
      writer_.reset();
      return failed("could not write", s.error().message);
    }
    return std::nullopt;
  }

  Response publish(const std::string& key_label, const UploadTerms& terms) {
    if (received_ == 0) return api_error(422, "the file is empty");
    auto blob = writer_->commit();
    writer_.reset();
    if (!blob) return failed("could not store", blob.error().message);
    return api_.publish(key_label, filename_, content_type_, *blob, terms);
  }

 private:
  // The disk is full or the store is broken: the admin's problem, logged;
  // the client is told to try again.
  Response failed(const char* what, const std::string& why) {
    log_warn(std::string("api upload: ") + what + " the blob: " + why);
    return api_error(503, "the file could not be stored; try again later");
  }

  Api& api_;
  std::string content_type_, filename_;
  std::optional<store::BlobWriter> writer_;
  std::uint64_t received_ = 0;
};

class RawUpload : public UploadSink {
 public:
  RawUpload(Api& api, std::string key_label, std::string filename, std::string content_type,
            UploadTerms terms)
      : key_label_(std::move(key_label)), terms_(std::move(terms)),
        file_(api, std::move(filename), content_type) {
    opened_ = file_.open();
  }

  std::optional<Response> write(const char* data, std::size_t size) override {
    if (opened_) return std::move(opened_);
    return file_.write(data, size);
  }

  Response finish() override {
    if (opened_) return std::move(*opened_);
    return file_.publish(key_label_, terms_);
  }

 private:
  std::string key_label_;
  UploadTerms terms_;
  IncomingFile file_;
  std::optional<Response> opened_;  // set when the blob could not be started
};

class MultipartUpload : public UploadSink {
 public:
  MultipartUpload(Api& api, std::string key_label, std::string boundary)
      : api_(api), key_label_(std::move(key_label)),
        reader_(std::move(boundary), {[this](const PartInfo& p) { return on_part(p); },
                                      [this](const char* d, std::size_t n) { return on_data(d, n); },
                                      [this] { return on_part_end(); }}) {}

  std::optional<Response> write(const char* data, std::size_t size) override {
    // The file part is counted against max_upload on its own; this bounds
    // the rest (an endless epilogue after the closing boundary, say).
    body_bytes_ += size;
    if (body_bytes_ > api_.config().max_upload + kFormOverhead)
      return api_error(413, "the upload is over the limit of " + format_size(api_.config().max_upload));
    if (auto s = reader_.feed(data, size); !s) return refusal(s.error().message);
    return std::nullopt;
  }

  Response finish() override {
    if (auto s = reader_.finish(); !s) return refusal(s.error().message);
    if (!file_done_) return api_error(422, "the form has no file part (a field named 'file')");
    auto terms = api_.terms(fields());
    if (!terms) return api_error(422, terms.error().message);
    return file_->publish(key_label_, *terms);
  }

 private:
  // An Error from the reader is ours (a callback's refusal, kept as a
  // Response) or the body's (malformed: 422).
  Response refusal(const std::string& message) {
    if (refused_) return std::move(*refused_);
    return api_error(422, "the multipart body is malformed: " + message);
  }
  Status refuse(Response r) {
    refused_ = std::move(r);
    return make_error("refused");
  }

  Status on_part(const PartInfo& p) {
    if (p.name == "file") {
      if (file_) return refuse(api_error(422, "the form has more than one file part"));
      file_.emplace(api_, p.filename.value_or(""), p.content_type);
      if (auto r = file_->open()) return refuse(std::move(*r));
      in_file_ = true;
      return Status{};
    }
    if (values_.size() >= 8) return refuse(api_error(422, "the form has too many fields"));
    values_.emplace_back(p.name, "");
    in_file_ = false;
    // Each field is checked as soon as it is complete (on_part_end), so a
    // bad term is refused before a large file is read.
    return Status{};
  }

  Status on_data(const char* data, std::size_t size) {
    if (in_file_) {
      if (auto r = file_->write(data, size)) return refuse(std::move(*r));
      return Status{};
    }
    std::string& v = values_.back().second;
    if (v.size() + size > kMaxFieldBytes)
      return refuse(api_error(422, "the form field '" + clean_display_text(values_.back().first, 64) +
                                       "' is too long"));
    v.append(data, size);
    return Status{};
  }

  Status on_part_end() {
    if (in_file_) {
      file_done_ = true;
      in_file_ = false;
      return Status{};
    }
    if (auto t = api_.terms(fields()); !t) return refuse(api_error(422, t.error().message));
    return Status{};
  }

  std::vector<Api::Field> fields() const {
    std::vector<Api::Field> out;
    for (const auto& [k, v] : values_) out.push_back({k, v});
    return out;
  }

  Api& api_;
  std::string key_label_;
  MultipartReader reader_;
  std::optional<IncomingFile> file_;
  bool in_file_ = false, file_done_ = false;
  std::vector<std::pair<std::string, std::string>> values_;
  std::optional<Response> refused_;
  std::uint64_t body_bytes_ = 0;
};

}  // namespace

std::unique_ptr<UploadSink> multipart_upload(Api& api, std::string key_label, std::string boundary) {
  return std::make_unique<MultipartUpload>(api, std::move(key_label), std::move(boundary));
}

std::unique_ptr<UploadSink> raw_upload(Api& api, std::string key_label, std::string filename,
                                       std::string content_type, UploadTerms terms) {
  return std::make_unique<RawUpload>(api, std::move(key_label), std::move(filename),
                                     std::move(content_type), std::move(terms));
}

}  // namespace attachgate::web
