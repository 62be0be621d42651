// web/download_routes.cc - GET/HEAD /t/{ticket}: the bytes of a claimed
// download, decrypted as they are sent.
//
// The ticket was handed out by a won claim (link_routes.cc). It serves the
// whole file, or one Range of it, until the download has completed once or
// the grace time ends; that is what lets a dropped connection resume rather
// than burn a one-time link. It carries one transfer at a time (a lease in
// the catalog, transfer_lease.h): a GET while another is running gets 409,
// so parallel requests cannot turn one claim into several downloads. Every
// transfer ends in a `downloaded` event saying whether it completed; only
// the one that closed the ticket says `complete`. The file name in the headers is the
// recorded, untrusted one, made safe by content_disposition().
#include "store/secrets.h"
#include "util/text.h"
#include "web/content_headers.h"
#include "web/handler_internal.h"
#include "web/range.h"
#include "web/transfer_lease.h"
#include "web/zip_stream.h"

namespace attachgate::web {
namespace {

// A blob's plaintext as a ByteSource.
class BlobSource : public ByteSource {
 public:
  BlobSource(store::BlobReader reader, std::uint64_t size) : reader_(std::move(reader)), size_(size) {}
  std::uint64_t size() const override { return size_; }
  Result<std::size_t> read(void* data, std::size_t size) override { return reader_.read(data, size); }
  Status skip(std::uint64_t bytes) override { return reader_.skip(bytes); }

 private:
  store::BlobReader reader_;
  std::uint64_t size_;
};

// nullptr: the blob is gone from the store (deleted behind our back).
Result<std::unique_ptr<ByteSource>> open_file(const store::BlobStore& blobs,
                                              const store::FileRecord& file) {
  auto reader = blobs.find_blob(file.blob_id);
  if (!reader) return reader.error();
  if (!*reader) return std::unique_ptr<ByteSource>();
  return std::unique_ptr<ByteSource>(std::make_unique<BlobSource>(std::move(**reader), file.size));
}

Result<std::unique_ptr<ByteSource>> open_zip(const store::BlobStore& blobs,
                                             const std::vector<store::FileRecord>& files) {
  std::vector<ZipEntry> entries;
  for (const auto& f : files) {
    ZipEntry e;
    e.name = sanitize_display_name(f.filename);
    e.size = f.size;
    e.mtime = f.created_at;
    e.open = [&blobs, f]() -> Result<std::unique_ptr<ByteSource>> {
      auto source = open_file(blobs, f);
      if (source && !*source) return make_error("blob " + f.blob_id + " is missing");
      return source;
    };
    entries.push_back(std::move(e));
  }
  auto zip = ZipStream::create(std::move(entries));
  if (!zip) return zip.error();
  return std::unique_ptr<ByteSource>(std::move(*zip));
}

}  // namespace

Response Handler::ticket(const Request& request, std::string_view ticket) {
  if (!store::looks_like_token(ticket)) return not_found();
  auto found = store_.catalog.find_download(store_.tokens.hash(ticket));
  if (!found) {
    log_warn("download: " + found.error().message);
    return problem(503, "Temporarily unavailable", "Please try again in a few minutes.");
  }
  if (!*found) return not_found();
  const store::DownloadRecord& d = **found;
  const std::int64_t now = clock_();
  if (d.completed_at) return gone_page("finished");
  if (now >= d.resume_until) return gone_page("resume over");
  for (const auto& f : d.files) {
    if (f.state == store::FileState::purged) return gone_page("expired");
    if (f.state != store::FileState::stored) return gone_page("missing");
  }
  if (d.files.empty()) return not_found();

  auto source = d.is_zip ? open_zip(store_.blobs, d.files) : open_file(store_.blobs, d.files[0]);
  if (!source) {
    log_warn("download " + std::to_string(d.id) + ": " + source.error().message);
    return problem(500, "This file cannot be read",
                   "The server cannot read the stored file. Please tell the sender.");
  }
  if (!*source) {
    // Gone from the blob store: recorded as start-up reconciliation would,
    // so every page from now on says so.
    log_warn("download " + std::to_string(d.id) + ": blob " + d.files[0].blob_id +
             " is missing; its file is marked missing in the catalog");
    if (auto marked = store_.catalog.mark_blob_missing(d.files[0].blob_id); !marked)
      log_warn("download " + std::to_string(d.id) + ": " + marked.error().message);
    return gone_page("missing");
  }
  const std::uint64_t size = (*source)->size();
  const std::string name = d.is_zip ? "attachments.zip" : d.files[0].filename;
  const std::string etag =
      d.is_zip ? "\"zip-" + std::to_string(d.id) + "\"" : "\"" + d.files[0].sha256.substr(0, 32) + "\"";

  Response r;
  r.headers = security_headers();
  r.headers.emplace_back("Content-Type",
                         d.is_zip ? std::string("application/zip")
                                  : response_content_type(d.files[0].content_type));
  r.headers.emplace_back("Content-Disposition", content_disposition(name));
  r.headers.emplace_back("Accept-Ranges", "bytes");
  r.headers.emplace_back("ETag", etag);

  // If-Range with another validator: the client's partial copy is of
  // something else, so it gets the whole file.
  RangeRequest range;
  if (request.if_range.empty() || request.if_range == etag) range = parse_range(request.range, size);
  std::uint64_t first = 0, length = size;
  if (range.kind == RangeKind::unsatisfiable) {
    Response bad = problem(416, "Range not satisfiable", "The requested part is past the end.");
    bad.headers.emplace_back("Content-Range", unsatisfied_range(size));
    return bad;
  }
  if (range.kind == RangeKind::satisfiable) {
    first = range.range.first;
    length = range.range.last - first + 1;
    r.status = 206;
    r.headers.emplace_back("Content-Range", content_range(range.range, size));
  }
  r.length = length;
  if (request.method == "HEAD") return r;

  // The one decision on whether this transfer may go: any check above was
  // a read another request may have overtaken.
  auto begun = TransferLease::begin(store_.catalog, d.id, config_.transfer_lease_seconds, clock_);
  if (!begun) {
    log_warn("download " + std::to_string(d.id) + ": " + begun.error().message);
    return problem(503, "Temporarily unavailable", "Please try again in a few minutes.");
  }
  switch (begun->start) {
    case store::TransferStart::started: break;
    case store::TransferStart::busy: return transfer_busy();
    case store::TransferStart::finished: return gone_page("finished");
    case store::TransferStart::over: return gone_page("resume over");
    case store::TransferStart::unknown: return not_found();
  }
  std::shared_ptr<TransferLease> lease = std::move(begun->lease);
  if (first > 0) {
    if (auto s = (*source)->skip(first); !s) {
      log_warn("download " + std::to_string(d.id) + ": " + s.error().message);
      return problem(500, "This file cannot be read",
                     "The server cannot read the stored file. Please tell the sender.");
    }
  }
  r.stream = leased_source(std::move(*source), lease);
  const std::int64_t message_id = d.files[0].message_id;
  const std::optional<std::int64_t> file_id =
      d.is_zip ? std::nullopt : std::optional<std::int64_t>(d.files[0].id);
  Request who;
  who.remote_addr = request.remote_addr;
  who.user_agent = request.user_agent;
  std::vector<std::string> file_ids;
  for (const auto& f : d.files) file_ids.push_back(f.public_id);
  r.on_done = [this, lease, id = d.id, link = Via{d.link_id, d.recipient}, message_id, file_id,
               first, length, size, count = d.files.size(), who,
               file_ids](std::uint64_t sent) {
    const bool complete = sent == length && first + length == size;
    auto ended = lease->end(complete ? std::optional<std::int64_t>(clock_()) : std::nullopt);
    if (!ended) log_warn("download " + std::to_string(id) + ": " + ended.error().message);
    const bool held = ended && *ended;
    std::string detail;
    if (complete && held) {
      // Only the transfer that closed the ticket counts, and tells the sender.
      queue_download_notice(message_id, link, file_ids, who);
      detail = "complete";
      metrics_.downloads.add("complete");
      if (first > 0) detail += ", resumed at byte " + std::to_string(first);
    } else if (complete) {
      metrics_.downloads.add("interrupted");
      detail = "sent in full but not counted: the ticket had passed to another transfer";
    } else if (sent == length) {
      metrics_.downloads.add("part");
      detail = "part: bytes " + std::to_string(first) + "-" + std::to_string(first + length - 1);
    } else {
      metrics_.downloads.add("interrupted");
      detail = "interrupted after " + std::to_string(first + sent) + " of " + std::to_string(size) +
               " bytes";
    }
    if (count > 1) detail += " (zip of " + std::to_string(count) + " files)";
    record(store::EventKind::downloaded, who, message_id, link, file_id, detail);
  };
  return r;
}

Response Handler::transfer_busy() {
  Response r = problem(409, "This download is already running",
                       "Another transfer with this address is in progress. Wait for it to finish, "
                       "or try again in a minute if it was cut off.");
  r.headers.emplace_back("Retry-After", std::to_string(config_.transfer_lease_seconds));
  return r;
}

}  // namespace attachgate::web
