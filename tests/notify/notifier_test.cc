// Tests notify/notifier.cc over a real store and the shipped templates, with
// the SMTP transport replaced by a recorder that can be told to fail: what a
// receipt and a download notice say, and retry, backoff and giving up.
#include "notify/notifier.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>

#include <nlohmann/json.hpp>

#include "store/secrets.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::notify {
namespace {

constexpr std::int64_t kNow = 1'795'000'000;

std::string source_dir() {
  const char* d = std::getenv("ATTACHGATE_SOURCE_DIR");
  return d ? d : ATTACHGATE_SOURCE_DIR_DEFAULT;
}

struct Sent {
  std::string from, to, data;
};

class Recorder : public MailTransport {
 public:
  Status send(const std::string& from, const std::string& to, const std::string& data) override {
    if (fail) return make_error("relay smtp://127.0.0.1:25: connection refused");
    sent.push_back({from, to, data});
    return {};
  }
  // Reads the mail whole, as the MTA would, and answers as Postfix does.
  Result<std::string> inject(const std::string& from, const std::string& to,
                             const MailSource& source) override {
    if (fail) return make_error("relay smtp://127.0.0.1:10027: connection refused");
    std::string data;
    char buf[1000];
    for (;;) {
      auto got = source(buf, sizeof buf);
      if (!got) return got.error();
      if (*got == 0) break;
      data.append(buf, *got);
    }
    sent.push_back({from, to, data});
    return "250 2.0.0 Ok: queued as 4F2A" + std::to_string(sent.size());
  }
  bool fail = false;
  std::vector<Sent> sent;
};

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::Store::open(dir_.path(), "", attachgate::testing::catalog_for_state(dir_.path()));
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    auto mail = SenderMail::load(source_dir() + "/templates");
    ASSERT_TRUE(mail.ok()) << mail.error().message;
    notifier_ = std::make_unique<Notifier>(
        *store_, std::make_shared<const SenderMail>(std::move(*mail)), transport_,
        NotifierConfig{"https://files.example.org", "attachgate@example.org"},
        [this] { return now_; });
  }

  std::int64_t offload(std::vector<store::NewOutboxItem> outbox,
                       std::optional<std::string> link_recipient = std::nullopt) {
    store::Offload o;
    o.now = kNow;
    o.message.queue_id = "Q" + std::to_string(++offloads_);
    o.message.sender = "alice@example.org";
    o.message.subject = "Quarterly report";
    o.message.recipients = {"bob@example.net", "carol@example.com"};
    o.files.push_back({"report.pdf", "application/pdf",
                       store::BlobInfo{std::string(31, 'a') + static_cast<char>('0' + offloads_), 2'500'000, std::string(64, '0')}});
    store::NewLink link;
    link.token_hash = store_->tokens.hash(store::new_token());
    link.pixel_id = store::new_public_id(16);
    link.expires_at = kNow + 3 * 86400;
    link.max_downloads = 2;
    link.recipient = std::move(link_recipient);
    o.links.push_back(link);
    o.outbox = std::move(outbox);
    return store_->catalog.record_offload(o).value().message_id;
  }

  static store::NewOutboxItem receipt(const std::string& code) {
    return {store::OutboxKind::receipt, std::nullopt, "alice@example.org",
            nlohmann::json{{"status_token", "STATUSTOKEN"}, {"access_code", code}}.dump(), kNow};
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  Recorder transport_;
  std::unique_ptr<Notifier> notifier_;
  std::int64_t now_ = kNow;
  int offloads_ = 0;
};

TEST_F(NotifierTest, ReceiptNamesFilesTermsCodeAndStatusPageAndIsMarked) {
  offload({receipt("4711081542")});
  auto pass = notifier_->run_once();
  ASSERT_TRUE(pass.ok()) << pass.error().message;
  EXPECT_EQ(pass->sent, 1);
  ASSERT_EQ(transport_.sent.size(), 1u);
  const Sent& m = transport_.sent[0];
  EXPECT_EQ(m.from, "attachgate@example.org");
  EXPECT_EQ(m.to, "alice@example.org");
  for (const char* want : {"Subject: Sent as a download link: Quarterly report\r\n",
                           "report.pdf (2.5 MB)", "bob@example.net, carol@example.com",
                           "4711081542", "https://files.example.org/s/STATUSTOKEN",
                           "X-Attachgate-Kind: receipt\r\n"})
    EXPECT_NE(m.data.find(want), std::string::npos) << want << " missing in:\n" << m.data;
  // The mark is the one the milter checks.
  const auto id_at = m.data.find("Message-ID: <") + 13;
  const std::string id = m.data.substr(id_at, m.data.find('>', id_at) - id_at);
  const auto mark_at = m.data.find("X-Attachgate-Notice: ") + 21;
  const std::string mark = m.data.substr(mark_at, m.data.find("\r\n", mark_at) - mark_at);
  EXPECT_TRUE(store::check_notice_mark(store_->tokens, mark, id, "alice@example.org", kNow)) << mark;
  EXPECT_FALSE(store::check_notice_mark(store_->tokens, mark, id, "bob@example.net", kNow));
  // Sent once; the payload (the code) is gone from the catalog.
  EXPECT_EQ(notifier_->run_once()->sent, 0);
  EXPECT_EQ(store_->catalog.outbox_depth(store::OutboxKind::receipt).value(), 0);
}

// A recipient copy: the blob's mail goes from the original sender to its
// one recipient, marked; the MTA's queue id lands on the link and in the
// trail, the blob is removed, and the copy is sent once.
TEST_F(NotifierTest, RecipientCopyIsInjectedOnceFromTheSenderAndItsQueueIdRecorded) {
  auto writer = store_->blobs.create();
  ASSERT_TRUE(writer.ok());
  const std::string mail = "Subject: Quarterly report\r\nTo: bob@example.net\r\n\r\nyour link: /d/X\r\n";
  ASSERT_TRUE(writer->write(mail.data(), mail.size()).ok());
  auto blob = writer->commit();
  ASSERT_TRUE(blob.ok());
  store::NewOutboxItem copy{store::OutboxKind::recipient_copy, std::nullopt, "carol@example.com", "{}", kNow};
  copy.blob_id = blob->id;
  copy.link_index = 0;
  const std::int64_t message = offload({copy});
  EXPECT_EQ(store_->catalog.outbox_depth(store::OutboxKind::recipient_copy).value(), 1);

  ASSERT_EQ(notifier_->run_once()->sent, 1);
  ASSERT_EQ(transport_.sent.size(), 1u);
  const Sent& m = transport_.sent[0];
  EXPECT_EQ(m.from, "alice@example.org") << "bounces go to the sender";
  EXPECT_EQ(m.to, "carol@example.com");
  ASSERT_EQ(m.data.rfind("X-Attachgate-Copy: ", 0), 0u) << m.data;
  const std::string mark = m.data.substr(19, m.data.find("\r\n") - 19);
  EXPECT_TRUE(store::check_notice_mark(store_->tokens, mark, store::kCopyMarkLabel, "carol@example.com", kNow));
  EXPECT_FALSE(store::check_notice_mark(store_->tokens, mark, store::kCopyMarkLabel, "bob@example.net", kNow));
  EXPECT_EQ(m.data.substr(m.data.find("\r\n") + 2), mail) << "the copy byte for byte";

  auto d = store_->catalog.show_message("Q1").value().value();
  EXPECT_EQ(d.links.at(0).queue_id, "4F2A1");
  bool queued = false;
  for (const auto& e : d.events)
    queued = queued || (e.kind == store::EventKind::queued && e.recipient == "carol@example.com" &&
                        e.detail == "copy queued as 4F2A1" && e.link_id == d.links.at(0).id);
  EXPECT_TRUE(queued);
  EXPECT_FALSE(store_->blobs.exists(blob->id)) << "the copy's blob is gone once sent";
  EXPECT_EQ(notifier_->run_once()->sent, 0);
  EXPECT_EQ(store_->catalog.outbox_depth(store::OutboxKind::recipient_copy).value(), 0);
  (void)message;
}

TEST_F(NotifierTest, ARecipientCopyWhoseInjectionFailsIsRetriedAndKeepsItsBlob) {
  auto writer = store_->blobs.create();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(writer->write("A: b\r\n\r\nc\r\n", 9).ok());
  auto blob = writer->commit();
  store::NewOutboxItem copy{store::OutboxKind::recipient_copy, std::nullopt, "carol@example.com", "{}", kNow};
  copy.blob_id = blob->id;
  copy.link_index = 0;
  offload({copy});
  transport_.fail = true;
  EXPECT_EQ(notifier_->run_once()->retried, 1);
  EXPECT_TRUE(store_->blobs.exists(blob->id));
  EXPECT_EQ(store_->catalog.blob_ids_in_use().value().size(), 2u) << "file and copy, for reconciliation";
  transport_.fail = false;
  now_ += 60;
  EXPECT_EQ(notifier_->run_once()->sent, 1);
  EXPECT_FALSE(store_->blobs.exists(blob->id));
}

// "Send again": the fresh link goes from the sender to the one recipient
// through the injection path, marked, with the new link in it; its queue id
// lands on the new link. A link sent again before its mail went out is not
// mailed: the recipient gets only the newest, working one.
TEST_F(NotifierTest, AFreshLinkIsInjectedFromTheSenderWithTheNewLinkAndOnlyTheNewest) {
  const std::int64_t message = offload({}, "carol@example.com");
  auto first = store_->catalog.resend_recipient_link(
      message, "carol@example.com", store::new_resend_request(store_->tokens, kNow + 10, "admin"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  const store::ResendRequest again = store::new_resend_request(store_->tokens, kNow + 20, "admin");
  auto second = store_->catalog.resend_recipient_link(message, "carol@example.com", again);
  ASSERT_EQ(second.value().outcome, store::ResendOutcome::sent);
  now_ = kNow + 30;

  auto pass = notifier_->run_once();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->sent, 1);
  EXPECT_EQ(pass->given_up, 1) << "the first fresh link was revoked by the second";
  ASSERT_EQ(transport_.sent.size(), 1u);
  const Sent& m = transport_.sent[0];
  EXPECT_EQ(m.from, "alice@example.org") << "bounces go to the sender";
  EXPECT_EQ(m.to, "carol@example.com");
  EXPECT_NE(m.data.find("From: alice@example.org\r\n"), std::string::npos) << m.data;
  EXPECT_NE(m.data.find("Subject: New link: Quarterly report\r\n"), std::string::npos) << m.data;
  std::string body = m.data;  // quoted-printable: join the soft line breaks
  for (auto at = body.find("=\r\n"); at != std::string::npos; at = body.find("=\r\n", at))
    body.erase(at, 3);
  EXPECT_NE(body.find("https://files.example.org/d/" + again.token), std::string::npos) << body;
  EXPECT_NE(body.find("report.pdf"), std::string::npos) << body;
  EXPECT_NE(body.find("no longer works"), std::string::npos) << body;
  // The notice mark lets it through a Postfix service that runs attachgate.
  const auto id_at = m.data.find("Message-ID: <") + 13;
  const std::string id = m.data.substr(id_at, m.data.find('>', id_at) - id_at);
  const auto mark_at = m.data.find("X-Attachgate-Notice: ") + 21;
  const std::string mark = m.data.substr(mark_at, m.data.find("\r\n", mark_at) - mark_at);
  EXPECT_TRUE(store::check_notice_mark(store_->tokens, mark, id, "carol@example.com", now_)) << mark;

  auto d = store_->catalog.show_message("Q1").value().value();
  ASSERT_EQ(d.links.size(), 3u);
  EXPECT_EQ(d.links[2].id, second->link_id);
  EXPECT_EQ(d.links[2].queue_id, "4F2A1") << "the watcher follows the fresh link's own mail";
  bool queued = false;
  for (const auto& e : d.events)
    queued = queued || (e.kind == store::EventKind::queued && e.link_id == second->link_id &&
                        e.detail == "new link queued as 4F2A1");
  EXPECT_TRUE(queued);
  EXPECT_EQ(notifier_->run_once()->sent, 0) << "sent once";
  EXPECT_EQ(store_->catalog.outbox_depth(store::OutboxKind::fresh_link).value(), 0);
}

// A backlog is sent in batches, and a full batch asks for the next pass at
// once; a failing relay never does (it would spin on the same rows).
TEST_F(NotifierTest, AFullBatchAsksForAnotherPassAndAFailingRelayDoesNot) {
  std::vector<store::NewOutboxItem> many(60, receipt(""));
  offload(many);
  transport_.fail = true;
  auto failing = notifier_->run_once();
  ASSERT_TRUE(failing.ok());
  EXPECT_EQ(failing->retried, 1);
  EXPECT_FALSE(failing->more) << "49 rows were skipped after the relay failed";
  transport_.fail = false;
  now_ += 60;
  auto first = notifier_->run_once();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->sent, 50);
  EXPECT_TRUE(first->more);
  auto second = notifier_->run_once();
  EXPECT_EQ(second->sent, 10);
  EXPECT_FALSE(second->more);
}

TEST_F(NotifierTest, WithoutCodeTheReceiptSaysNothingAboutOne) {
  offload({receipt("")});
  ASSERT_EQ(notifier_->run_once()->sent, 1);
  EXPECT_EQ(transport_.sent[0].data.find("access code"), std::string::npos) << transport_.sent[0].data;
}

TEST_F(NotifierTest, FailuresRetryWithGrowingPausesThenGiveUp) {
  offload({receipt("")});
  transport_.fail = true;
  EXPECT_EQ(notifier_->run_once()->retried, 1);
  EXPECT_EQ(notifier_->run_once()->retried, 0) << "not due again before the pause";
  now_ += 59;
  EXPECT_EQ(notifier_->run_once()->retried, 0);
  now_ += 1;
  EXPECT_EQ(notifier_->run_once()->retried, 1);
  now_ += 119;
  EXPECT_EQ(notifier_->run_once()->retried, 0) << "the second pause is two minutes";
  EXPECT_EQ(Notifier::backoff_seconds(0), 60);
  EXPECT_EQ(Notifier::backoff_seconds(1), 120);
  EXPECT_EQ(Notifier::backoff_seconds(30), 3600);

  transport_.fail = false;
  now_ += 1;
  EXPECT_EQ(notifier_->run_once()->sent, 1) << "the relay is back";

  offload({receipt("")});  // a second message, never sent
  transport_.fail = true;
  now_ += 2 * 86400;
  EXPECT_EQ(notifier_->run_once()->given_up, 1);
  EXPECT_EQ(store_->catalog.outbox_depth(store::OutboxKind::receipt).value(), 0);
}

TEST_F(NotifierTest, DownloadNoticeSaysWhatWhenWhereAndItemsWithoutMessageAreDropped) {
  const std::int64_t message = offload({});
  const auto file_id = store_->catalog.show_message("Q1").value().value().files.at(0).public_id;
  ASSERT_TRUE(store_->catalog.enqueue({store::OutboxKind::download_notice, message, "alice@example.org",
                                       nlohmann::json{{"files", {file_id}},
                                                      {"at", kNow + 3600},
                                                      {"remote_addr", "198.51.100.7"},
                                                      {"user_agent", "Mozilla/5.0\r\nX: y"}}.dump(),
                                       kNow + 3600}).ok());
  now_ += 3600;
  ASSERT_EQ(notifier_->run_once()->sent, 1);
  const std::string& data = transport_.sent.at(0).data;
  for (const char* want : {"Subject: Downloaded: Quarterly report", "report.pdf", "198.51.100.7",
                           "on 2026-11-18 12"})
    EXPECT_NE(data.find(want), std::string::npos) << want << " missing in:\n" << data;
  EXPECT_EQ(data.find("\r\nX: y"), std::string::npos);
  EXPECT_EQ(data.find("own link"), std::string::npos) << "a shared link names nobody";

  // Through a recipient's own link, the notice names them.
  ASSERT_TRUE(store_->catalog.enqueue({store::OutboxKind::download_notice, message, "alice@example.org",
                                       nlohmann::json{{"files", {file_id}},
                                                      {"at", now_},
                                                      {"recipient", "carol@example.com"}}.dump(),
                                       now_}).ok());
  ASSERT_EQ(notifier_->run_once()->sent, 1);
  EXPECT_NE(transport_.sent.at(1).data.find("by carol@example.com, through their own link,"),
            std::string::npos) << transport_.sent.at(1).data;

  // Rows go with their message (ON DELETE CASCADE); one without is dropped.
  ASSERT_TRUE(store_->catalog.enqueue({store::OutboxKind::receipt, std::nullopt, "alice@example.org", "{}", now_}).ok());
  EXPECT_EQ(notifier_->run_once()->given_up, 1);
}

TEST_F(NotifierTest, ADeadRelayCostsOneAttemptAPassNotOneARow) {
  offload({receipt("1")});
  offload({receipt("2")});
  transport_.fail = true;
  auto pass = notifier_->run_once();
  ASSERT_TRUE(pass.ok());
  EXPECT_EQ(pass->retried, 1) << "the second receipt waits for the next pass";
  EXPECT_EQ(store_->catalog.outbox_depth(store::OutboxKind::receipt).value(), 2);
  transport_.fail = false;
  EXPECT_EQ(notifier_->run_once()->sent, 1) << "the one not tried is due at once";
  now_ += 60;
  EXPECT_EQ(notifier_->run_once()->sent, 1);
}

TEST_F(NotifierTest, AWebhookBacklogDoesNotHoldUpReceipts) {
  for (int i = 0; i < 80; ++i)
    ASSERT_TRUE(store_->catalog.enqueue({store::OutboxKind::webhook, std::nullopt, "https://hooks.example.org/x",
                                         "{}", kNow - 100}).ok());
  offload({receipt("4711")});
  auto mail = store_->catalog.due_outbox(kNow, 50, false).value();
  ASSERT_EQ(mail.size(), 1u);
  EXPECT_EQ(mail[0].kind, store::OutboxKind::receipt);
  EXPECT_EQ(store_->catalog.due_outbox(kNow, 50, true)->size(), 50u);
  EXPECT_EQ(notifier_->run_once()->sent, 1);
  ASSERT_EQ(transport_.sent.size(), 1u);
}

}  // namespace
}  // namespace attachgate::notify
