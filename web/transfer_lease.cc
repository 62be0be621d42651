// web/transfer_lease.cc - holding, renewing and ending a ticket's one
// transfer; see transfer_lease.h.
#include "web/transfer_lease.h"

#include "store/secrets.h"
#include "util/log.h"

namespace attachgate::web {
namespace {

class LeasedSource : public ByteSource {
 public:
  LeasedSource(std::unique_ptr<ByteSource> source, std::shared_ptr<TransferLease> lease)
      : source_(std::move(source)), lease_(std::move(lease)) {}
  std::uint64_t size() const override { return source_->size(); }
  Result<std::size_t> read(void* data, std::size_t size) override {
    if (auto s = lease_->keep(); !s) return s.error();
    return source_->read(data, size);
  }
  Status skip(std::uint64_t bytes) override { return source_->skip(bytes); }

 private:
  std::unique_ptr<ByteSource> source_;
  std::shared_ptr<TransferLease> lease_;
};

}  // namespace

Result<TransferLease::Begun> TransferLease::begin(store::WebCatalog& catalog,
                                                  std::int64_t download_id, std::int64_t seconds,
                                                  Clock clock) {
  const std::int64_t now = clock();
  // The owner only tells transfers apart; 128 random bits never repeat.
  std::string owner = store::new_public_id(16);
  auto start = catalog.begin_transfer(download_id, owner, now, seconds);
  if (!start) return start.error();
  Begun begun;
  begun.start = *start;
  if (*start == store::TransferStart::started)
    begun.lease.reset(new TransferLease(catalog, download_id, std::move(owner), seconds,
                                        std::move(clock), now));
  return begun;
}

TransferLease::TransferLease(store::WebCatalog& catalog, std::int64_t download_id,
                             std::string owner, std::int64_t seconds, Clock clock,
                             std::int64_t renewed_at)
    : catalog_(catalog),
      download_id_(download_id),
      owner_(std::move(owner)),
      seconds_(seconds),
      clock_(std::move(clock)),
      renewed_at_(renewed_at) {}

TransferLease::~TransferLease() {
  // Not ended through end(): the response never reached the server's
  // report. Let the ticket go now rather than when the lease runs out.
  if (auto s = end(std::nullopt); !s)
    log_warn("download " + std::to_string(download_id_) + ": " + s.error().message);
}

Status TransferLease::keep() {
  std::lock_guard lock(mu_);
  if (ended_) return make_error("the transfer has ended");
  const std::int64_t now = clock_();
  if (now - renewed_at_ < seconds_ / 3) return {};
  auto renewed = catalog_.renew_transfer(download_id_, owner_, now + seconds_);
  if (!renewed) return renewed.error();
  if (!*renewed) return make_error("another transfer of this ticket took over");
  renewed_at_ = now;
  return {};
}

Result<bool> TransferLease::end(std::optional<std::int64_t> complete_at) {
  std::lock_guard lock(mu_);
  if (ended_) return false;
  ended_ = true;
  return catalog_.end_transfer(download_id_, owner_, complete_at);
}

std::unique_ptr<ByteSource> leased_source(std::unique_ptr<ByteSource> source,
                                          std::shared_ptr<TransferLease> lease) {
  return std::make_unique<LeasedSource>(std::move(source), std::move(lease));
}

}  // namespace attachgate::web
