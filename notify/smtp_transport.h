// notify/smtp_transport.h - hands a composed mail to the relay.
//
// MailTransport is the seam the notifier's unit tests replace; CurlSmtp is
// the real thing: libcurl speaking SMTP (or SMTPS) to the configured relay,
// by default the local Postfix, with a bounded time per attempt.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace attachgate::notify {

// A mail read as it is sent, so a large one never sits whole in memory:
// fills out with up to size bytes and says how many, 0 at the end.
using MailSource = std::function<Result<std::size_t>(char* out, std::size_t size)>;

class MailTransport {
 public:
  virtual ~MailTransport() = default;
  // A failure's message says what the relay answered, for the retry log.
  virtual Status send(const std::string& from, const std::string& to, const std::string& data) = 0;
  // The same for a mail read from source; returns the relay's last reply
  // (Postfix: "250 2.0.0 Ok: queued as 4F2A1B3C").
  virtual Result<std::string> inject(const std::string& from, const std::string& to,
                                     const MailSource& source) = 0;
};

class CurlSmtp : public MailTransport {
 public:
  CurlSmtp(std::string relay_url, long timeout_seconds = 60)
      : url_(std::move(relay_url)), timeout_(timeout_seconds) {}
  Status send(const std::string& from, const std::string& to, const std::string& data) override;
  Result<std::string> inject(const std::string& from, const std::string& to,
                             const MailSource& source) override;
  const std::string& url() const { return url_; }

 private:
  std::string url_;
  long timeout_;
};

// The queue id in an MTA's reply to the end of DATA ("... queued as ID"),
// or "" when it names none.
std::string queue_id_of(std::string_view reply);

}  // namespace attachgate::notify
