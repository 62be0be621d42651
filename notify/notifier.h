// notify/notifier.h - sends what the outbox holds: receipts and download
// notices to senders (webhooks are not built yet).
//
// Runs in its own process (the notify role of `attachgate run`), so a slow
// relay never holds up the milter or a download. Each pass takes the rows
// that are due, renders the mail from the catalog and the row's payload,
// hands it to the transport and marks the row: sent, retried later with a
// doubling pause (1 min up to 1 h), or given up after two days. An item
// whose message was forgotten meanwhile is given up at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "notify/sender_mail.h"
#include "notify/smtp_transport.h"
#include "store/store.h"

namespace attachgate::notify {

struct NotifierConfig {
  std::string public_url;  // for the status page link
  std::string from;        // envelope and header From
  std::int64_t give_up_after_seconds = 2 * 86400;
};

struct PassReport {
  int sent = 0, retried = 0, given_up = 0;
};

class Notifier {
 public:
  using Clock = std::function<std::int64_t()>;
  Notifier(store::Store& store, std::shared_ptr<const SenderMail> mail, MailTransport& transport,
           NotifierConfig config, Clock clock);

  // Templates reloaded on SIGHUP; the next pass uses them.
  void set_mail(std::shared_ptr<const SenderMail> mail) { mail_ = std::move(mail); }

  // One pass over what is due now; an Error only when the catalog fails.
  Result<PassReport> run_once();

  // The pause before attempt n+1 after n failed ones.
  static std::int64_t backoff_seconds(int failed_attempts);

 private:
  Result<std::string> render(const store::OutboxItem& item, std::string& subject);

  store::Store& store_;
  std::shared_ptr<const SenderMail> mail_;
  MailTransport& transport_;
  NotifierConfig config_;
  Clock clock_;
};

}  // namespace attachgate::notify
