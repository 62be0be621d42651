// notify/smtp_transport.h - hands a composed mail to the relay.
//
// MailTransport is the seam the notifier's unit tests replace; CurlSmtp is
// the real thing: libcurl speaking SMTP (or SMTPS) to the configured relay,
// by default the local Postfix, with a bounded time per attempt.
#pragma once

#include <string>

#include "util/result.h"

namespace attachgate::notify {

class MailTransport {
 public:
  virtual ~MailTransport() = default;
  // A failure's message says what the relay answered, for the retry log.
  virtual Status send(const std::string& from, const std::string& to, const std::string& data) = 0;
};

class CurlSmtp : public MailTransport {
 public:
  CurlSmtp(std::string relay_url, long timeout_seconds = 60)
      : url_(std::move(relay_url)), timeout_(timeout_seconds) {}
  Status send(const std::string& from, const std::string& to, const std::string& data) override;

 private:
  std::string url_;
  long timeout_;
};

}  // namespace attachgate::notify
