// notify/webhook_transport.h - POSTs one webhook body to one receiver.
//
// WebhookTransport is the seam the notifier's unit tests replace; CurlWebhook
// is the real thing: libcurl, one POST with the given headers, bounded time,
// no redirects followed (a receiver that moved is a configuration error).
// Only a 2xx answer counts as delivered. webhook_signature is what the
// X-Attachgate-Signature header carries, so receivers can check the body.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "util/result.h"

namespace attachgate::notify {

struct WebhookRequest {
  std::string url, body;
  std::vector<std::pair<std::string, std::string>> headers;  // name, value
};

class WebhookTransport {
 public:
  virtual ~WebhookTransport() = default;
  // A failure's message says what the receiver answered (e.g. "HTTP 500").
  virtual Status post(const WebhookRequest& request) = 0;
};

class CurlWebhook : public WebhookTransport {
 public:
  explicit CurlWebhook(long timeout_seconds = 10) : timeout_(timeout_seconds) {}
  Status post(const WebhookRequest& request) override;

 private:
  long timeout_;
};

// "sha256=" and the lower-case hex HMAC-SHA256 of body keyed with secret.
std::string webhook_signature(const std::string& secret, const std::string& body);

}  // namespace attachgate::notify
