// Tests what process_message leaves for the sender: a receipt queued in the
// offload's transaction, carrying the status token and the access code in
// clear (the only place either exists), and the rule that attachgate's own
// notices pass untouched while a forged mark does not.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "store/secrets.h"
#include "tests/milter/processor_fixture.h"

namespace attachgate::milter::testing {
namespace {

const std::string kPdfMessage = read_file(source_dir() + "/tests/milter/golden/pdf_attachment.in.eml");

std::string with_subject(const std::string& subject) {
  std::string m = kPdfMessage;
  const std::size_t at = m.find("Subject: Quarterly report");
  return m.replace(at, 25, "Subject: " + subject);
}

std::string with_notice_mark(const std::string& mark) {
  std::string m = kPdfMessage;
  return m.insert(m.find("MIME-Version:"), std::string(store::kNoticeHeader) + ": " + mark + "\r\n");
}

class ReceiptTest : public ProcessorFixture {
 protected:
  ReceiptTest() { random_ids_ = true; }
};

TEST_F(ReceiptTest, ReceiptCarriesTheStatusTokenAndTheCodeThatOpensTheLink) {
  Run r = process(with_subject("[secure] Quarterly report"));
  ASSERT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
  EXPECT_TRUE(store_->catalog.due_outbox(kNow + 86400, 10)->empty())
      << "held until the MTA has the mail";
  ASSERT_TRUE(store_->catalog.release_outbox(r.outcome.message_id, kNow).ok());
  auto due = store_->catalog.due_outbox(kNow, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 1u);
  const store::OutboxItem& receipt = due->front();
  EXPECT_EQ(receipt.kind, store::OutboxKind::receipt);
  EXPECT_EQ(receipt.target, "alice@example.org");
  EXPECT_EQ(receipt.message_id, r.outcome.message_id);

  auto payload = nlohmann::json::parse(receipt.payload);
  const std::string code = payload.at("access_code");
  EXPECT_EQ(code.size(), 10u);
  auto detail = store_->catalog.show_message("4F2A1B3C").value().value();
  ASSERT_TRUE(detail.links.at(0).code_hash.has_value());
  EXPECT_TRUE(store::verify_access_code(*detail.links.at(0).code_hash, code));
  EXPECT_FALSE(store::verify_access_code(*detail.links.at(0).code_hash, "0000000000"));

  const std::string status_token = payload.at("status_token");
  auto found = store_->catalog.find_message_by_status_token(store_->tokens.hash(status_token));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->id, r.outcome.message_id);
  EXPECT_EQ((*found)->download_notice, store::DownloadNotice::first);
  // The token itself is not what the catalog keeps.
  EXPECT_FALSE(store_->catalog.find_message_by_status_token(status_token)->has_value());
}

TEST_F(ReceiptTest, NoCodeMeansAnEmptyCodeAndNoReceiptWhenPolicySaysSo) {
  Run r = process(kPdfMessage);
  ASSERT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
  ASSERT_TRUE(store_->catalog.release_outbox(r.outcome.message_id, kNow).ok());
  auto due = store_->catalog.due_outbox(kNow, 10).value();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(due[0].payload).at("access_code"), "");

  auto quiet = std::make_shared<config::Policy>(*policy_);
  quiet->receipts = false;
  quiet->download_notice = config::DownloadNotice::never;
  policy_ = quiet;
  Run again = process(kPdfMessage);
  ASSERT_EQ(again.outcome.action, Outcome::Action::modified);
  ASSERT_TRUE(store_->catalog.release_outbox(again.outcome.message_id, kNow).ok());
  EXPECT_EQ(store_->catalog.due_outbox(kNow, 10)->size(), 1u) << "no second receipt";
  auto m = store_->catalog.find_message(again.outcome.message_id).value().value();
  EXPECT_EQ(m.download_notice, store::DownloadNotice::never);
}

TEST_F(ReceiptTest, BouncesGetNoReceipt) {
  sender_ = "";
  Run r = process(kPdfMessage);
  ASSERT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
  ASSERT_TRUE(store_->catalog.release_outbox(r.outcome.message_id, kNow).ok());
  EXPECT_TRUE(store_->catalog.due_outbox(kNow, 10)->empty());
}

TEST_F(ReceiptTest, OwnNoticePassesUntouchedButForgedOrCopiedMarksDoNot) {
  const std::string id = "golden-1@example.org";
  sender_ = service_.relay.from;  // the notifier's envelope sender
  Run own = process(with_notice_mark(store::notice_mark(store_->tokens, id, "bob@example.net", kNow)));
  EXPECT_EQ(own.outcome.action, Outcome::Action::pass);
  EXPECT_EQ(own.outcome.log, "passed unchanged: attachgate's own notice to a sender");
  EXPECT_EQ(store_->catalog.count(store::CatalogTable::messages).value(), 0);

  store::TokenHasher stranger(store::Key{});
  const std::vector<std::pair<const char*, std::string>> forged = {
      {"another Message-ID", store::notice_mark(store_->tokens, "other@example.org", "bob@example.net", kNow)},
      {"another key", store::notice_mark(stranger, id, "bob@example.net", kNow)},
      {"another recipient", store::notice_mark(store_->tokens, id, "alice@example.org", kNow)},
      {"made two hours ago", store::notice_mark(store_->tokens, id, "bob@example.net", kNow - 7200)},
      {"not a mark", "yes"},
  };
  for (const auto& [what, mark] : forged) {
    Run r = process(with_notice_mark(mark));
    EXPECT_EQ(r.outcome.action, Outcome::Action::modified) << what << ": " << r.outcome.log;
  }
  // A valid mark copied into mail from a sender, or to more recipients.
  const std::string good = store::notice_mark(store_->tokens, id, "bob@example.net", kNow);
  sender_ = "alice@example.org";
  EXPECT_EQ(process(with_notice_mark(good)).outcome.action, Outcome::Action::modified);
  sender_ = service_.relay.from;
  EXPECT_EQ(process(with_notice_mark(good), {"bob@example.net", "carol@example.com"}).outcome.action,
            Outcome::Action::modified);
}

}  // namespace
}  // namespace attachgate::milter::testing
