// web/transfer_lease.h - a ticket's one transfer, held while its bytes go
// out.
//
// A ticket carries one transfer at a time (store::WebCatalog::begin_transfer).
// The transfer that took it holds a TransferLease: every read of its
// stream renews the lease once a third of it has passed, and a lease that
// has passed to another transfer cuts the stream short, so two transfers
// never both send a ticket's file. The transfer ends exactly once: through
// end() when the server reports how it went, or else when the last holder
// lets go (a response dropped unsent). A process that dies holds nothing:
// its lease runs out and the recipient resumes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "store/catalog_roles.h"
#include "web/byte_source.h"

namespace attachgate::web {

class TransferLease {
 public:
  using Clock = std::function<std::int64_t()>;

  struct Begun {
    store::TransferStart start = store::TransferStart::unknown;
    std::shared_ptr<TransferLease> lease;  // when started
  };
  // Takes the ticket's transfer for `seconds` (renewed while it runs).
  static Result<Begun> begin(store::WebCatalog& catalog, std::int64_t download_id,
                             std::int64_t seconds, Clock clock);

  TransferLease(const TransferLease&) = delete;
  TransferLease& operator=(const TransferLease&) = delete;
  ~TransferLease();

  // Renews the lease if a third of it has passed; an Error once the ticket
  // is another transfer's (or the catalog cannot say).
  Status keep();
  // Ends the transfer, closing the ticket when complete_at is given. true:
  // this transfer held the ticket to its end (and closed it, if complete);
  // false: it had lost the ticket, or ended already, and changed nothing.
  Result<bool> end(std::optional<std::int64_t> complete_at);

 private:
  TransferLease(store::WebCatalog& catalog, std::int64_t download_id, std::string owner,
                std::int64_t seconds, Clock clock, std::int64_t renewed_at);

  store::WebCatalog& catalog_;
  const std::int64_t download_id_;
  const std::string owner_;
  const std::int64_t seconds_;
  Clock clock_;
  std::mutex mu_;
  std::int64_t renewed_at_;
  bool ended_ = false;
};

// `source`, read only while `lease` is kept: a read after the lease was
// lost fails, which makes the server cut the transfer short.
std::unique_ptr<ByteSource> leased_source(std::unique_ptr<ByteSource> source,
                                          std::shared_ptr<TransferLease> lease);

}  // namespace attachgate::web
