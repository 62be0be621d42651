// Tests notify/webhook_feed.cc and the notifier's webhook sending over a
// real store, with the HTTP transport replaced by a recorder that answers
// what it is told: one row per URL with the right JSON, no replay of
// history or of a pass, the queue bound, a signature checked independently
// with libsodium, and a 500 retried after the configured pause.
#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdlib>
#include <set>

#include <nlohmann/json.hpp>

#include "notify/notifier.h"
#include "notify/webhook_feed.h"
#include "store/secrets.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::notify {
namespace {

constexpr std::int64_t kNow = 1'795'000'000;  // 2026-11-18T11:06:40Z
const std::string kSecret = "0123456789abcdef-webhook";

std::string source_dir() {
  const char* d = std::getenv("ATTACHGATE_SOURCE_DIR");
  return d ? d : ATTACHGATE_SOURCE_DIR_DEFAULT;
}

class NoMail : public MailTransport {
 public:
  Status send(const std::string&, const std::string&, const std::string&) override { return {}; }
  Result<std::string> inject(const std::string&, const std::string&, const MailSource&) override {
    return std::string();
  }
};

class HookRecorder : public WebhookTransport {
 public:
  Status post(const WebhookRequest& r) override {
    requests.push_back(r);
    if (status != 200) return make_error(r.url + ": HTTP " + std::to_string(status));
    return {};
  }
  std::string header(std::size_t i, const std::string& name) const {
    for (const auto& [n, v] : requests.at(i).headers)
      if (n == name) return v;
    return "";
  }
  int status = 200;
  std::vector<WebhookRequest> requests;
};

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sodium_init() < 0, false);
    auto s = store::Store::open(dir_.path(), "", attachgate::testing::catalog_for_state(dir_.path()));
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    auto mail = SenderMail::load(source_dir() + "/templates");
    ASSERT_TRUE(mail.ok()) << mail.error().message;
    notifier_ = std::make_unique<Notifier>(
        *store_, std::make_shared<const SenderMail>(std::move(*mail)), mail_,
        NotifierConfig{"https://files.example.org", "attachgate@example.org"},
        [this] { return now_; });
  }

  void enable(std::vector<std::string> urls, std::int64_t max_queue = 10000) {
    notifier_->enable_webhooks(hooks_, {std::move(urls), kSecret, max_queue, 5});
  }

  std::int64_t offload(const std::string& subject = "Quarterly report") {
    store::Offload o;
    o.now = now_;
    o.message.queue_id = "Q" + std::to_string(++offloads_);
    o.message.sender = "alice@example.org";
    o.message.subject = subject;
    o.message.recipients = {"bob@example.net"};
    return store_->catalog.record_offload(o).value().message_id;
  }

  std::int64_t event(std::int64_t message, store::EventKind kind) {
    store::EventRecord e;
    e.message_id = message;
    e.kind = kind;
    e.at = now_;
    e.recipient = "bob@example.net";
    e.remote_addr = "198.51.100.7";
    e.detail = "relay=mx.example.net";
    return store_->catalog.add_event(e).value();
  }

  std::string public_id(std::int64_t message) {
    return store_->catalog.find_message(message).value().value().public_id;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  NoMail mail_;
  HookRecorder hooks_;
  std::unique_ptr<Notifier> notifier_;
  std::int64_t now_ = kNow;
  int offloads_ = 0;
};

TEST_F(WebhookTest, EachEventGoesToEveryUrlOnceWithItsJson) {
  enable({"https://a.example.org/hook", "http://b.example.org/in?key=1"});
  ASSERT_EQ(notifier_->run_once()->webhooks_queued, 0);  // starts the cursor
  const std::int64_t m = offload("Plans \"Q4\"");
  const std::int64_t delivered = event(m, store::EventKind::delivered);
  event(m, store::EventKind::viewed);  // not reported

  auto pass = notifier_->run_once();
  ASSERT_TRUE(pass.ok()) << pass.error().message;
  EXPECT_EQ(pass->webhooks_queued, 4);
  EXPECT_EQ(pass->sent, 4);
  ASSERT_EQ(hooks_.requests.size(), 4u);
  EXPECT_EQ(hooks_.requests[0].url, "https://a.example.org/hook");
  EXPECT_EQ(hooks_.requests[1].url, "http://b.example.org/in?key=1");
  EXPECT_EQ(hooks_.requests[0].body, hooks_.requests[1].body);
  EXPECT_EQ(hooks_.header(0, "X-Attachgate-Event"), "offloaded");
  EXPECT_EQ(hooks_.header(2, "X-Attachgate-Event"), "delivered");
  EXPECT_EQ(hooks_.header(0, "Content-Type"), "application/json");
  EXPECT_NE(hooks_.header(0, "X-Attachgate-Delivery"), hooks_.header(1, "X-Attachgate-Delivery"));

  const auto body = nlohmann::json::parse(hooks_.requests[2].body);
  const nlohmann::json want = {
      {"id", delivered},
      {"event", "delivered"},
      {"at", "2026-11-18T11:06:40Z"},
      {"message",
       {{"id", public_id(m)}, {"queue_id", "Q1"}, {"sender", "alice@example.org"},
        {"subject", "Plans \"Q4\""}}},
      {"recipient", "bob@example.net"},
      {"detail", "relay=mx.example.net"},
      {"remote_addr", "198.51.100.7"}};
  EXPECT_EQ(body, want) << body.dump(2);

  // A second pass finds nothing new and sends nothing again.
  pass = notifier_->run_once();
  EXPECT_EQ(pass->webhooks_queued, 0);
  EXPECT_EQ(pass->sent, 0);
  EXPECT_EQ(hooks_.requests.size(), 4u);
}

TEST_F(WebhookTest, HistoryIsNotReplayedWhenWebhooksAreFirstConfigured) {
  const std::int64_t m = offload();
  event(m, store::EventKind::downloaded);
  ASSERT_EQ(notifier_->run_once()->webhooks_queued, 0);  // webhooks off
  enable({"https://a.example.org/hook"});
  EXPECT_EQ(notifier_->run_once()->webhooks_queued, 0);
  event(m, store::EventKind::opened);
  EXPECT_EQ(notifier_->run_once()->webhooks_queued, 1);
  ASSERT_EQ(hooks_.requests.size(), 1u);
  EXPECT_EQ(hooks_.header(0, "X-Attachgate-Event"), "opened");
}

TEST_F(WebhookTest, TheQueueBoundDropsTheOldest) {
  enable({"https://a.example.org/hook"}, 2);
  hooks_.status = 503;
  ASSERT_TRUE(notifier_->run_once().ok());
  const std::int64_t m = offload();  // offloaded
  const std::int64_t opened = event(m, store::EventKind::opened);
  const std::int64_t last = event(m, store::EventKind::downloaded);
  auto pass = notifier_->run_once();
  EXPECT_EQ(pass->webhooks_queued, 3);
  EXPECT_EQ(pass->retried, 1) << "one failure per receiver per pass";
  EXPECT_EQ(store_->catalog.outbox_depth(store::OutboxKind::webhook).value(), 2);
  ASSERT_EQ(hooks_.requests.size(), 1u);
  EXPECT_EQ(hooks_.header(0, "X-Attachgate-Event"), "opened") << "the offload was dropped";
  hooks_.status = 200;
  now_ += 5;
  EXPECT_EQ(notifier_->run_once()->sent, 2);
  ASSERT_EQ(hooks_.requests.size(), 3u);
  std::set<std::int64_t> sent;
  for (std::size_t i = 1; i < 3; ++i)
    sent.insert(nlohmann::json::parse(hooks_.requests[i].body)["id"].get<std::int64_t>());
  EXPECT_EQ(sent, (std::set<std::int64_t>{opened, last}));
}

TEST_F(WebhookTest, TheSignatureIsTheBodysHmacWithTheSecret) {
  enable({"https://a.example.org/hook"});
  ASSERT_TRUE(notifier_->run_once().ok());
  offload();
  ASSERT_EQ(notifier_->run_once()->sent, 1);
  const std::string& body = hooks_.requests.at(0).body;
  // HMAC-SHA256 with a key that is not 32 bytes: libsodium's streaming form.
  crypto_auth_hmacsha256_state st;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(kSecret.data()),
                              kSecret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(body.data()),
                                body.size());
  crypto_auth_hmacsha256_final(&st, mac);
  char hex[2 * sizeof mac + 1];
  sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
  EXPECT_EQ(hooks_.header(0, "X-Attachgate-Signature"), std::string("sha256=") + hex);
  // RFC 4231 test case 2, so the helper is HMAC-SHA256 and not just self-consistent.
  EXPECT_EQ(webhook_signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(body.find("token"), std::string::npos);
}

TEST_F(WebhookTest, A500IsRetriedAfterTheConfiguredPauseThenSent) {
  enable({"https://a.example.org/hook"});
  ASSERT_TRUE(notifier_->run_once().ok());
  offload();
  hooks_.status = 500;
  EXPECT_EQ(notifier_->run_once()->retried, 1);
  now_ += 4;
  EXPECT_EQ(notifier_->run_once()->retried, 0) << "not due before the 5 s pause";
  now_ += 1;
  EXPECT_EQ(notifier_->run_once()->retried, 1);
  now_ += 9;
  EXPECT_EQ(notifier_->run_once()->retried, 0) << "the second pause is 10 s";
  hooks_.status = 200;
  now_ += 1;
  EXPECT_EQ(notifier_->run_once()->sent, 1);
  ASSERT_EQ(hooks_.requests.size(), 3u);
  EXPECT_EQ(hooks_.header(0, "X-Attachgate-Delivery"), hooks_.header(2, "X-Attachgate-Delivery"))
      << "one delivery id across retries";
  EXPECT_EQ(hooks_.requests[0].body, hooks_.requests[2].body);
  EXPECT_EQ(store_->catalog.outbox_depth(store::OutboxKind::webhook).value(), 0);
  EXPECT_EQ(Notifier::backoff_seconds(0, 1), 1);
  EXPECT_EQ(Notifier::backoff_seconds(20, 1), 3600);
}

TEST_F(WebhookTest, RowsForAUrlNoLongerConfiguredAreGivenUp) {
  enable({"https://old.example.org/hook"});
  hooks_.status = 500;
  ASSERT_TRUE(notifier_->run_once().ok());
  offload();
  EXPECT_EQ(notifier_->run_once()->retried, 1);
  enable({"https://new.example.org/hook"});
  now_ += 3600;
  EXPECT_EQ(notifier_->run_once()->given_up, 1);
  EXPECT_EQ(hooks_.requests.size(), 1u);
}

}  // namespace
}  // namespace attachgate::notify
