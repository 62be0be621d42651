// notify/notifier.h - sends what the outbox holds: receipts and download
// notices to senders, recipient copies and fresh links (through the MTA),
// and webhooks.
//
// Runs in its own process (the notify role of `attachgate run`), so a slow
// relay never holds up the milter or a download. Each pass takes the rows
// that are due, renders the mail from the catalog and the row's payload,
// hands it to the transport and marks the row: sent, retried later with a
// doubling pause (1 min up to 1 h), or given up after two days. An item
// whose message was forgotten meanwhile is given up at once. With webhooks
// enabled, each pass first turns new events into webhook rows (see
// webhook_feed.h), which are signed and POSTed the same way; their first
// pause is configurable. A webhook row for a URL no longer configured is
// given up; a receiver that fails is not tried again in the same pass.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "notify/sender_mail.h"
#include "notify/smtp_transport.h"
#include "notify/webhook_feed.h"
#include "notify/webhook_transport.h"
#include "store/store.h"

namespace attachgate::notify {

struct NotifierConfig {
  std::string public_url;  // for the status page link
  std::string from;        // envelope and header From
  std::int64_t give_up_after_seconds = 2 * 86400;
};

struct PassReport {
  int sent = 0, retried = 0, given_up = 0;
  int webhooks_queued = 0;  // rows the webhook feed added this pass
  // A batch was full and went out whole: more rows may be due now, so pass
  // again at once. Never set when a failure left rows for later.
  bool more = false;
};

class Notifier {
 public:
  using Clock = std::function<std::int64_t()>;
  Notifier(store::StoreFor<store::NotifyCatalog> store, std::shared_ptr<const SenderMail> mail,
           MailTransport& transport, NotifierConfig config, Clock clock);

  // Templates reloaded on SIGHUP; the next pass uses them.
  void set_mail(std::shared_ptr<const SenderMail> mail) { mail_ = std::move(mail); }

  // Recipient copies go through this MTA service ([notify] inject: the one
  // that runs the DKIM signer but not attachgate); without this call,
  // through the relay.
  void set_injector(MailTransport& injector) { injector_ = &injector; }

  // Without this call webhooks are off: the feed's cursor is forgotten and
  // any webhook rows left from an earlier configuration are given up.
  void enable_webhooks(WebhookTransport& transport, WebhookConfig config);

  // One pass over what is due now; an Error only when the catalog fails.
  Result<PassReport> run_once();

  // The pause before attempt n+1 after n failed ones: first, doubling, at most 1 h.
  static std::int64_t backoff_seconds(int failed_attempts, std::int64_t first = 60);

 private:
  Result<std::string> render(const store::OutboxItem& item, std::string& subject,
                             std::string& unsendable);
  // Rows skipped after a failure (tried again next pass) go to untried.
  Status send_batch(const std::vector<store::OutboxItem>& due, std::int64_t now,
                    PassReport& report, std::vector<std::int64_t>& untried);
  Status send_mail(const store::OutboxItem& item, const std::string& subject,
                   const std::string& body, std::int64_t now);
  std::string unsendable(const store::OutboxItem& item) const;
  Status send_webhook(const store::OutboxItem& item);
  // A recipient copy: the blob's mail, from the original sender, marked;
  // on success the MTA's queue id for it ("" if its reply named none).
  Result<std::string> send_copy(const store::OutboxItem& item, std::int64_t now,
                                std::string& unsendable);
  // A fresh link ("send again"): rendered from the catalog and the row's
  // token, from the original sender, injected like a copy.
  Result<std::string> send_fresh_link(const store::OutboxItem& item, std::int64_t now,
                                      std::string& unsendable);
  // Hands a copy or fresh link to the injection service, the attempt
  // recorded first; the MTA's queue id.
  Result<std::string> inject(const store::OutboxItem& item, const std::string& sender,
                             const MailSource& source);
  // Marks the row after an attempt: sent, retried after a pause, or given up.
  Status settle(const store::OutboxItem& item, const Status& sent, std::int64_t now,
                std::int64_t first_pause, PassReport& report);

  store::StoreFor<store::NotifyCatalog> store_;
  std::shared_ptr<const SenderMail> mail_;
  MailTransport& transport_;
  MailTransport* injector_ = nullptr;
  NotifierConfig config_;
  Clock clock_;
  WebhookTransport* webhook_transport_ = nullptr;
  WebhookConfig webhooks_;
  std::optional<WebhookFeed> feed_;  // always set; optional only to be replaced
};

}  // namespace attachgate::notify
