// notify/notifier.cc - see notifier.h.
#include "notify/notifier.h"

#include <algorithm>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "notify/mail_text.h"
#include "store/secrets.h"
#include "util/fault.h"
#include "util/text.h"
#include "util/log.h"

namespace attachgate::notify {
namespace {

constexpr int kBatch = 50;

std::vector<MailFile> files_of(const store::MessageDetail& d) {
  std::vector<MailFile> out;
  for (const auto& f : d.files) out.push_back({f.filename, f.size});
  return out;
}

std::string domain_of(const std::string& address) {
  const auto at = address.rfind('@');
  return at == std::string::npos ? "localhost" : address.substr(at + 1);
}

std::string without_leading_newlines(std::string s) {
  s.erase(0, s.find_first_not_of('\n') == std::string::npos ? s.size() : s.find_first_not_of('\n'));
  return s;
}

}  // namespace

Notifier::Notifier(store::StoreFor<store::NotifyCatalog> store,
                   std::shared_ptr<const SenderMail> mail, MailTransport& transport,
                   NotifierConfig config, Clock clock)
    : store_(store), mail_(std::move(mail)), transport_(transport), config_(std::move(config)),
      clock_(std::move(clock)) {
  feed_.emplace(store_.catalog, webhooks_);
}

void Notifier::enable_webhooks(WebhookTransport& transport, WebhookConfig config) {
  webhook_transport_ = &transport;
  webhooks_ = std::move(config);
  feed_.emplace(store_.catalog, webhooks_);
}

std::int64_t Notifier::backoff_seconds(int failed_attempts, std::int64_t first) {
  // 12 doublings take even a 1 s start past the 1 h ceiling.
  const int doublings = std::clamp(failed_attempts, 0, 12);
  return std::min<std::int64_t>(first << doublings, 3600);
}

Result<std::string> Notifier::render(const store::OutboxItem& item, std::string& subject,
                                     std::string& unsendable) {
  // A catalog error is an Error (the row is tried again later: a receipt's
  // payload is the only copy of its access code); a row no retry can help
  // sets `unsendable`.
  if (!item.message_id) return unsendable = "no message", std::string();
  auto message = store_.catalog.find_message(*item.message_id);
  if (!message) return message.error();
  if (!*message) return unsendable = "its message is no longer in the catalog", std::string();
  auto detail = store_.catalog.show_message((*message)->public_id);
  if (!detail) return detail.error();
  if (!*detail) return unsendable = "its message is no longer in the catalog", std::string();
  const store::MessageDetail& d = **detail;
  auto payload = nlohmann::json::parse(item.payload, nullptr, false);
  if (payload.is_discarded() || !payload.is_object())
    return unsendable = "unreadable payload", std::string();

  if (item.kind == store::OutboxKind::receipt) {
    ReceiptFacts f;
    f.subject = d.message.subject;
    f.recipients = d.recipients;
    f.files = files_of(d);
    if (!d.links.empty()) {
      f.expires_at = d.links[0].expires_at;
      const int recipients = std::max<int>(1, static_cast<int>(d.recipients.size()));
      // A shared link's limit is per recipient times the recipients.
      f.downloads_per_recipient = d.links[0].recipient
                                      ? d.links[0].max_downloads
                                      : std::max(1, d.links[0].max_downloads / recipients);
    }
    for (const auto& link : d.links)
      if (link.recipient) f.own_links.push_back(*link.recipient);
    if (!f.own_links.empty())
      for (const auto& r : d.recipients)
        if (std::none_of(f.own_links.begin(), f.own_links.end(),
                         [&r](const std::string& l) { return equals_nocase(l, r); }))
          f.kept.push_back(r);
    f.access_code = payload.value("access_code", "");
    if (payload.contains("access_codes") && payload["access_codes"].is_array())
      for (const auto& c : payload["access_codes"])
        if (c.is_object())
          f.codes.emplace_back(c.value("recipient", ""), c.value("code", ""));
    const std::string token = payload.value("status_token", "");
    if (!token.empty()) f.status_url = config_.public_url + "/s/" + token;
    subject = "Sent as a download link: " + (d.message.subject.empty() ? "(no subject)" : d.message.subject);
    return mail_->receipt(f);
  }
  if (item.kind == store::OutboxKind::download_notice) {
    DownloadFacts f;
    f.subject = d.message.subject;
    for (const auto& name : payload.value("files", std::vector<std::string>{}))
      for (const auto& file : d.files)
        if (file.public_id == name) f.files.push_back({file.filename, file.size});
    f.at = payload.value("at", std::int64_t{0});
    f.remote_addr = payload.value("remote_addr", "");
    f.user_agent = payload.value("user_agent", "");
    f.recipient = payload.value("recipient", "");
    subject = "Downloaded: " + (d.message.subject.empty() ? "(no subject)" : d.message.subject);
    return mail_->download_notice(f);
  }
  unsendable = "a " + std::string(store::to_string(item.kind)) + " is not sent as mail";
  return std::string();
}

Status Notifier::send_mail(const store::OutboxItem& item, const std::string& subject,
                           const std::string& body, std::int64_t now) {
  MailHeaders h;
  h.from = config_.from;
  h.to = item.target;
  h.subject = subject;
  h.message_id = store::new_public_id(16) + "@" + domain_of(config_.from);
  h.mark = store::notice_mark(store_.tokens, h.message_id, item.target, now);
  h.kind = std::string(store::to_string(item.kind));
  h.date = now;
  return transport_.send(config_.from, item.target, compose_mail(h, without_leading_newlines(body)));
}

Status Notifier::send_webhook(const store::OutboxItem& item) {
  // The event's name is in the body the feed wrote; a row it did not write
  // still goes out, with an empty X-Attachgate-Event.
  auto body = nlohmann::json::parse(item.payload, nullptr, false);
  std::string event;
  if (body.is_object() && body.contains("event") && body["event"].is_string())
    event = body["event"].get<std::string>();
  WebhookRequest r;
  r.url = item.target;
  r.body = item.payload;
  // The row id is the delivery id: the same on every retry, so a receiver
  // that answered too late can tell a repeat from a new event.
  r.headers = {{"Content-Type", "application/json"},
               {"User-Agent", "attachgate"},
               {"X-Attachgate-Event", event},
               {"X-Attachgate-Delivery", std::to_string(item.id)},
               {"X-Attachgate-Signature", webhook_signature(webhooks_.secret, item.payload)}};
  return webhook_transport_->post(r);
}

Result<std::string> Notifier::send_copy(const store::OutboxItem& item, std::int64_t now,
                                        std::string& unsendable) {
  if (!item.message_id || item.blob_id.empty()) return unsendable = "no mail to send", std::string();
  auto message = store_.catalog.find_message(*item.message_id);
  if (!message) return message.error();
  if (!*message) return unsendable = "its message is no longer in the catalog", std::string();
  auto blob = store_.blobs.open_blob(item.blob_id);
  if (!blob) return unsendable = "its mail cannot be read: " + blob.error().message, std::string();
  // The mark first: a Postfix service that runs attachgate lets the copy
  // through; then the mail as the milter wrote it.
  const std::string head = std::string(store::kCopyHeader) + ": " +
                           store::notice_mark(store_.tokens, store::kCopyMarkLabel, item.target, now) +
                           "\r\n";
  std::size_t head_sent = 0;
  MailSource source = [&](char* out, std::size_t size) -> Result<std::size_t> {
    if (head_sent < head.size()) {
      const std::size_t n = std::min(size, head.size() - head_sent);
      std::memcpy(out, head.data() + head_sent, n);
      head_sent += n;
      return n;
    }
    return blob->read(out, size);
  };
  return inject(item, (*message)->sender, source);
}

Result<std::string> Notifier::send_fresh_link(const store::OutboxItem& item, std::int64_t now,
                                              std::string& unsendable) {
  if (!item.message_id || !item.link_id) return unsendable = "no link to send", std::string();
  if (!store::looks_like_token(item.payload)) return unsendable = "unreadable payload", std::string();
  auto message = store_.catalog.find_message(*item.message_id);
  if (!message) return message.error();
  if (!*message) return unsendable = "its message is no longer in the catalog", std::string();
  const store::MessageRecord& m = **message;
  auto detail = store_.catalog.show_message(m.public_id);
  if (!detail) return detail.error();
  const store::LinkRecord* link = nullptr;
  if (*detail)
    for (const auto& l : (*detail)->links)
      if (l.id == *item.link_id) link = &l;
  if (link == nullptr) return unsendable = "its link is no longer in the catalog", std::string();
  // Sent again once more, or revoked, before this went out: the recipient
  // would get a link that cannot work.
  if (link->revoked_at) return unsendable = "its link was revoked before it was sent", std::string();
  auto files = store_.catalog.link_files(link->id);
  if (!files) return files.error();
  FreshLinkFacts f;
  f.sender = m.sender;
  f.subject = m.subject;
  for (const auto& lf : *files) f.files.push_back({lf.file.filename, lf.file.size});
  f.url = config_.public_url + "/d/" + item.payload;
  f.expires_at = link->expires_at;
  f.max_downloads = link->max_downloads;
  f.has_code = link->code_hash.has_value();
  // From the sender, as their copy would have been; the notice mark lets it
  // through a Postfix service that runs attachgate.
  MailHeaders h;
  h.from = m.sender.empty() ? config_.from : m.sender;
  h.to = item.target;
  h.subject = "New link: " + (m.subject.empty() ? "(no subject)" : m.subject);
  h.message_id = store::new_public_id(16) + "@" + domain_of(h.from);
  h.mark = store::notice_mark(store_.tokens, h.message_id, item.target, now);
  h.kind = std::string(store::to_string(item.kind));
  h.date = now;
  const std::string mail = compose_mail(h, without_leading_newlines(mail_->fresh_link(f)));
  std::size_t sent = 0;
  MailSource source = [&](char* out, std::size_t size) -> Result<std::size_t> {
    const std::size_t n = std::min(size, mail.size() - sent);
    std::memcpy(out, mail.data() + sent, n);
    sent += n;
    return n;
  };
  return inject(item, m.sender, source);
}

Result<std::string> Notifier::inject(const store::OutboxItem& item, const std::string& sender,
                                     const MailSource& source) {
  // Recorded first: a crash between the MTA's reply and copy_queued leaves
  // the row due and marked, and the mail sent again says so in the trail.
  if (auto s = store_.catalog.outbox_attempt(item.id); !s) return s.error();
  if (item.interrupted)
    log_warn("outbox " + std::to_string(item.id) + ": " + std::string(store::to_string(item.kind)) +
             " to " + item.target +
             " is sent again after an attempt that was cut off; the recipient may get it twice");
  MailTransport& through = injector_ ? *injector_ : transport_;
  auto reply = through.inject(sender, item.target, source);
  if (!reply) return reply.error();
  fault_point("copy_injected");  // the MTA has the mail, the catalog does not know
  return queue_id_of(*reply);
}

Status Notifier::settle(const store::OutboxItem& item, const Status& sent, std::int64_t now,
                        std::int64_t first_pause, PassReport& report) {
  const std::string what =
      "outbox " + std::to_string(item.id) + ": " + std::string(store::to_string(item.kind)) +
      " to " + item.target;
  if (sent) {
    if (auto s = store_.catalog.outbox_sent(item.id, now); !s) return s;
    log_info(what + " sent");
    ++report.sent;
  } else if (now - item.created_at >= config_.give_up_after_seconds) {
    log_warn(what + " given up after " + std::to_string(item.attempts + 1) + " attempts: " +
             sent.error().message);
    if (auto s = store_.catalog.outbox_give_up(item.id, now, sent.error().message); !s) return s;
    if (!item.blob_id.empty()) (void)store_.blobs.remove(item.blob_id);
    ++report.given_up;
  } else {
    const std::int64_t pause = backoff_seconds(item.attempts, first_pause);
    log_warn(what + " not sent (" + sent.error().message + "); next try in " +
             std::to_string(pause) + " s");
    if (auto s = store_.catalog.outbox_retry(item.id, now + pause, sent.error().message); !s) return s;
    ++report.retried;
  }
  return {};
}

// Why a row cannot be sent whatever a retry does, or "" when it can be tried.
std::string Notifier::unsendable(const store::OutboxItem& item) const {
  if (!item.unreadable.empty()) return item.unreadable;
  if (item.kind != store::OutboxKind::webhook) return "";
  if (!webhook_transport_) return "webhooks are no longer configured";
  const auto& urls = webhooks_.urls;
  if (std::find(urls.begin(), urls.end(), item.target) == urls.end())
    return "this URL is no longer in [webhooks] urls";
  return "";
}

Result<PassReport> Notifier::run_once() {
  const std::int64_t now = clock_();
  PassReport report;
  // Events first, so one that just happened goes out in this pass.
  auto queued = feed_->run_once(now);
  if (!queued) return queued.error();
  report.webhooks_queued = *queued;
  // Mail and webhooks come in separate batches, so a backlog of either
  // never holds up the other (receipts carry access codes).
  for (const bool webhooks : {false, true}) {
    // Claimed, so another node's notifier on a shared catalog leaves them.
    auto due = store_.catalog.claim_due_outbox(now, kBatch, webhooks);
    if (!due) return due.error();
    const int settled_before = report.sent + report.retried + report.given_up;
    std::vector<std::int64_t> untried;
    const Status sent = send_batch(*due, now, report, untried);
    // Not left claimed until the claim runs out: due again next pass.
    if (auto s = store_.catalog.hand_back_outbox(untried, now); !s) return s.error();
    if (!sent) return sent.error();
    // Full, and every row settled (none skipped after a failure, which
    // would come back at once): more may be waiting.
    const int settled = report.sent + report.retried + report.given_up - settled_before;
    report.more = report.more || (due->size() == static_cast<std::size_t>(kBatch) && settled == kBatch);
  }
  return report;
}

Status Notifier::send_batch(const std::vector<store::OutboxItem>& due, std::int64_t now,
                            PassReport& report, std::vector<std::int64_t>& untried) {
  // A receiver that failed once in this pass is not tried again in it, nor
  // the relay after it failed: a dead one costs one timeout per pass, not
  // one per waiting row.
  std::set<std::string> failed_urls;
  bool relay_failed = false;
  for (const auto& item : due) {
    const bool webhook = item.kind == store::OutboxKind::webhook;
    if ((webhook && failed_urls.count(item.target)) || (!webhook && relay_failed)) {
      untried.push_back(item.id);
      continue;
    }
    std::string why = unsendable(item);
    Status sent;
    const bool injected = item.kind == store::OutboxKind::recipient_copy ||
                          item.kind == store::OutboxKind::fresh_link;
    if (why.empty() && injected) {
      auto queued = item.kind == store::OutboxKind::recipient_copy ? send_copy(item, now, why)
                                                                   : send_fresh_link(item, now, why);
      if (queued && why.empty()) {
        if (auto s = store_.catalog.copy_queued(item, *queued, now); !s) return s;
        // A blob left behind is taken by start-up reconciliation.
        if (!item.blob_id.empty()) (void)store_.blobs.remove(item.blob_id);
        log_info("outbox " + std::to_string(item.id) + ": " +
                 std::string(store::to_string(item.kind)) + " to " + item.target +
                 (queued->empty() ? " handed to the MTA" : " queued as " + *queued));
        ++report.sent;
        continue;
      }
      if (!queued) sent = queued.error();
    } else if (why.empty() && webhook) {
      sent = send_webhook(item);
    } else if (why.empty()) {
      std::string subject;
      auto body = render(item, subject, why);
      if (!body) return body.error();  // the catalog failed: try the pass again later
      if (why.empty()) sent = send_mail(item, subject, *body, now);
    }
    if (!why.empty()) {
      log_warn("outbox " + std::to_string(item.id) + ": " +
               std::string(store::to_string(item.kind)) + " to " + item.target +
               " given up: " + why);
      if (auto s = store_.catalog.outbox_give_up(item.id, now, why); !s) return s;
      if (!item.blob_id.empty()) (void)store_.blobs.remove(item.blob_id);
      ++report.given_up;
      continue;
    }
    const std::int64_t first = webhook ? webhooks_.retry_first_seconds : 60;
    if (auto s = settle(item, sent, now, first, report); !s) return s;
    if (webhook && !sent) failed_urls.insert(item.target);
    if (!webhook && !sent) relay_failed = true;
  }
  return {};
}

}  // namespace attachgate::notify
