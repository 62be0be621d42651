// notify/notifier.cc - see notifier.h.
#include "notify/notifier.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "notify/mail_text.h"
#include "store/secrets.h"
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

Notifier::Notifier(store::Store& store, std::shared_ptr<const SenderMail> mail,
                   MailTransport& transport, NotifierConfig config, Clock clock)
    : store_(store), mail_(std::move(mail)), transport_(transport), config_(std::move(config)),
      clock_(std::move(clock)) {}

std::int64_t Notifier::backoff_seconds(int failed_attempts) {
  const int doublings = std::clamp(failed_attempts, 0, 6);
  return std::min<std::int64_t>(60LL << doublings, 3600);
}

Result<std::string> Notifier::render(const store::OutboxItem& item, std::string& subject) {
  if (!item.message_id) return make_error("no message");
  auto message = store_.catalog.find_message(*item.message_id);
  if (!message) return message.error();
  if (!*message) return make_error("its message is no longer in the catalog");
  auto detail = store_.catalog.show_message((*message)->public_id);
  if (!detail) return detail.error();
  if (!*detail) return make_error("its message is no longer in the catalog");
  const store::MessageDetail& d = **detail;
  auto payload = nlohmann::json::parse(item.payload, nullptr, false);
  if (payload.is_discarded() || !payload.is_object()) return make_error("unreadable payload");

  if (item.kind == "receipt") {
    ReceiptFacts f;
    f.subject = d.message.subject;
    f.recipients = d.recipients;
    f.files = files_of(d);
    if (!d.links.empty()) {
      f.expires_at = d.links[0].expires_at;
      const int recipients = std::max<int>(1, static_cast<int>(d.recipients.size()));
      f.downloads_per_recipient = std::max(1, d.links[0].max_downloads / recipients);
    }
    f.access_code = payload.value("access_code", "");
    const std::string token = payload.value("status_token", "");
    if (!token.empty()) f.status_url = config_.public_url + "/s/" + token;
    subject = "Sent as a download link: " + (d.message.subject.empty() ? "(no subject)" : d.message.subject);
    return mail_->receipt(f);
  }
  if (item.kind == "download notice") {
    DownloadFacts f;
    f.subject = d.message.subject;
    for (const auto& name : payload.value("files", std::vector<std::string>{}))
      for (const auto& file : d.files)
        if (file.public_id == name) f.files.push_back({file.filename, file.size});
    f.at = payload.value("at", std::int64_t{0});
    f.remote_addr = payload.value("remote_addr", "");
    f.user_agent = payload.value("user_agent", "");
    subject = "Downloaded: " + (d.message.subject.empty() ? "(no subject)" : d.message.subject);
    return mail_->download_notice(f);
  }
  return make_error("kind '" + item.kind + "' is not sent by this version");
}

Result<PassReport> Notifier::run_once() {
  const std::int64_t now = clock_();
  auto due = store_.catalog.due_outbox(now, kBatch);
  if (!due) return due.error();
  PassReport report;
  for (const auto& item : *due) {
    if (item.kind == "webhook") continue;  // not built yet; the rows wait
    std::string subject;
    auto body = render(item, subject);
    if (!body) {
      // Nothing a retry could change: the message is gone or the row is bad.
      log_warn("outbox " + std::to_string(item.id) + ": " + item.kind + " to " + item.target +
               " given up: " + body.error().message);
      if (auto s = store_.catalog.outbox_give_up(item.id, now, body.error().message); !s) return s.error();
      ++report.given_up;
      continue;
    }
    MailHeaders h;
    h.from = config_.from;
    h.to = item.target;
    h.subject = subject;
    h.message_id = store::new_public_id(16) + "@" + domain_of(config_.from);
    h.mark = store::notice_mark(store_.tokens, h.message_id);
    h.kind = item.kind;
    h.date = now;
    auto sent = transport_.send(config_.from, item.target,
                                compose_mail(h, without_leading_newlines(*body)));
    if (sent) {
      if (auto s = store_.catalog.outbox_sent(item.id, now); !s) return s.error();
      log_info("outbox " + std::to_string(item.id) + ": " + item.kind + " sent to " + item.target);
      ++report.sent;
    } else if (now - item.created_at >= config_.give_up_after_seconds) {
      log_warn("outbox " + std::to_string(item.id) + ": " + item.kind + " to " + item.target +
               " given up after " + std::to_string(item.attempts + 1) + " attempts: " +
               sent.error().message);
      if (auto s = store_.catalog.outbox_give_up(item.id, now, sent.error().message); !s) return s.error();
      ++report.given_up;
    } else {
      const std::int64_t next = now + backoff_seconds(item.attempts);
      log_warn("outbox " + std::to_string(item.id) + ": " + item.kind + " to " + item.target +
               " not sent (" + sent.error().message + "); next try in " +
               std::to_string(next - now) + " s");
      if (auto s = store_.catalog.outbox_retry(item.id, next, sent.error().message); !s) return s.error();
      ++report.retried;
    }
  }
  return report;
}

}  // namespace attachgate::notify
