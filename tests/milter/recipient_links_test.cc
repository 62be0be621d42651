// Tests links per recipient (milter/recipient_plan.cc, the processor's
// recipient copies, milter/recipient_copy.cc): who keeps the MTA's message,
// who is taken off it, what each copy holds, and when links are shared.
#include <gtest/gtest.h>

#include <set>

#include "milter/recipient_copy.h"
#include "milter/recipient_plan.h"
#include "tests/milter/processor_fixture.h"

namespace attachgate::milter::testing {
namespace {

const std::string kPdfMessage = read_file(source_dir() + "/tests/milter/golden/pdf_attachment.in.eml");

class RecipientLinks : public ProcessorFixture {
 protected:
  struct Copy {
    std::string recipient, mail;
    std::int64_t link_id = 0;
  };
  // The recipient copies waiting in the outbox, their mails read back.
  std::vector<Copy> copies() {
    std::vector<Copy> out;
    // Held rows are not due: release them as the milter does once the MTA has the mail.
    auto id = store_->catalog.message_row_id("4F2A1B3C").value().value();
    EXPECT_TRUE(store_->catalog.release_outbox(id, kNow).ok());
    const auto due = store_->catalog.due_outbox(kNow, 100).value();
    for (const auto& item : due)
      if (item.kind == store::OutboxKind::recipient_copy)
        out.push_back({item.target, read_blob(item.blob_id), item.link_id.value_or(0)});
    return out;
  }
  static std::string link_of(const std::string& mail) {
    const auto at = mail.find("/d/");
    return at == std::string::npos ? "" : mail.substr(at, 3 + 43);
  }
};

TEST_F(RecipientLinks, EachExternalRecipientGetsTheirOwnLinkAndTheFirstKeepsTheMessage) {
  const std::vector<std::string> rcpts = {"bob@example.net", "carol@example.com", "dave@example.net"};
  Run r = process(kPdfMessage, rcpts);
  ASSERT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
  EXPECT_NE(r.outcome.log.find("each their own link (2 recipient copies queued)"), std::string::npos)
      << r.outcome.log;
  EXPECT_EQ(r.outcome.removed_recipients, (std::vector<std::string>{"carol@example.com", "dave@example.net"}));

  auto d = store_->catalog.show_message("4F2A1B3C").value().value();
  ASSERT_EQ(d.links.size(), 3u);
  ASSERT_EQ(d.files.size(), 1u);
  std::set<std::string> pixels;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(d.links[i].recipient, rcpts[i]);
    EXPECT_EQ(d.links[i].max_downloads, 1) << "each recipient's own limit, not shared";
    pixels.insert(d.links[i].pixel_id);
  }
  EXPECT_EQ(pixels.size(), 3u);

  auto c = copies();
  ASSERT_EQ(c.size(), 2u);
  std::set<std::string> links{link_of(r.output)};
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(c[i].recipient, rcpts[i + 1]);
    EXPECT_EQ(c[i].link_id, d.links[i + 1].id);
    links.insert(link_of(c[i].mail));
    // The same mail but for the link: headers, the MIME change and the mark.
    EXPECT_EQ(c[i].mail.find("X-Attachgate: offloaded=1; message=" + d.message.public_id),
              r.output.find("X-Attachgate: offloaded=1; message=" + d.message.public_id));
    EXPECT_EQ(c[i].mail.find("JVBERi0"), std::string::npos) << "the attachment is out of the copy";
    EXPECT_EQ(c[i].mail.size(), r.output.size()) << "same mail, a link of the same length";
  }
  EXPECT_EQ(links.size(), 3u) << "three different links";
  EXPECT_EQ(links.count(""), 0u);
}

TEST_F(RecipientLinks, AnInternalRecipientKeepsTheAttachmentAndEveryExternalOneGetsACopy) {
  Run r = process(kPdfMessage, {"carol@example.org", "bob@example.net", "dave@example.net"});
  ASSERT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
  EXPECT_NE(r.outcome.log.find("1 keeps the attachments"), std::string::npos) << r.outcome.log;
  EXPECT_FALSE(r.outcome.body.has_value()) << "the internal recipient's mail is not rewritten";
  EXPECT_EQ(r.outcome.removed_recipients, (std::vector<std::string>{"bob@example.net", "dave@example.net"}));
  auto d = store_->catalog.show_message("4F2A1B3C").value().value();
  ASSERT_EQ(d.links.size(), 2u);
  EXPECT_EQ(d.links[0].recipient, "bob@example.net");
  auto c = copies();
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NE(link_of(c[0].mail), link_of(c[1].mail));
}

TEST_F(RecipientLinks, OverMaxSplitRecipientsTheLinkIsSharedAndTheLogSaysWhy) {
  use_policy_text("max_split_recipients = 2\n[[rule]]\nname = \"all\"\naction = \"offload\"\n");
  Run r = process(kPdfMessage, {"a@example.net", "b@example.net", "c@example.net"});
  ASSERT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
  EXPECT_NE(r.outcome.log.find("one shared link: 3 recipients with links, over max_split_recipients (2)"),
            std::string::npos) << r.outcome.log;
  EXPECT_TRUE(r.outcome.removed_recipients.empty());
  auto d = store_->catalog.show_message("4F2A1B3C").value().value();
  ASSERT_EQ(d.links.size(), 1u);
  EXPECT_EQ(d.links[0].max_downloads, 3);
  EXPECT_TRUE(copies().empty());
}

TEST_F(RecipientLinks, AnUndoneOffloadRemovesTheCopiesBlobsToo) {
  Run r = process(kPdfMessage, {"bob@example.net", "dave@example.net"});
  ASSERT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
  EXPECT_EQ(store_->blobs.list_blobs()->size(), 2u) << "the file and one copy";
  auto blobs = store_->catalog.remove_message(r.outcome.message_id);
  ASSERT_TRUE(blobs.ok());
  EXPECT_EQ(blobs->size(), 2u);
}

TEST_F(RecipientLinks, OneAccessCodeServesEveryLinkOfAMessage) {
  use_policy_text("[[rule]]\nname = \"all\"\naction = \"offload\"\naccess_code = true\n");
  Run r = process(kPdfMessage, {"bob@example.net", "dave@example.net"});
  ASSERT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
  auto d = store_->catalog.show_message("4F2A1B3C").value().value();
  ASSERT_EQ(d.links.size(), 2u);
  ASSERT_TRUE(d.links[0].code_hash.has_value());
  EXPECT_EQ(d.links[0].code_hash, d.links[1].code_hash) << "one code, hashed once";
}

TEST_F(RecipientLinks, APerRecipientAccessCodeGivesEachLinkItsOwn) {
  use_policy_text("[[rule]]\nname = \"all\"\naction = \"offload\"\naccess_code = \"per_recipient\"\n");
  ASSERT_TRUE(policy_->rules.at(0).terms.code_per_recipient);
  Run r = process(kPdfMessage, {"bob@example.net", "dave@example.net"});
  ASSERT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
  auto d = store_->catalog.show_message("4F2A1B3C").value().value();
  ASSERT_EQ(d.links.size(), 2u);
  ASSERT_TRUE(d.links[0].code_hash && d.links[1].code_hash);
  EXPECT_NE(*d.links[0].code_hash, *d.links[1].code_hash);
}

// ---- the plan alone --------------------------------------------------------

config::Policy policy_of(std::string toml, const std::string& dir) {
  const std::string path = dir + "/plan.toml";
  std::ofstream(path) << toml;
  auto loaded = config::load_policy(path);
  EXPECT_TRUE(loaded.ok()) << config::format_problems(loaded.problems);
  return loaded.value.value_or(config::Policy{});
}

TEST(RecipientPlan, DifferentTermsForDifferentRecipientsShareOneLink) {
  attachgate::testing::TempDir dir;
  // Partners get 5 downloads, everyone else 1: one set of files cannot serve both.
  config::Policy p = policy_of(
      "[[rule]]\nname = \"partner\"\nrecipients = \"any_external\"\nsender_domains = [\"example.org\"]\n"
      "action = \"offload\"\nmax_downloads = 5\n"
      "[[rule]]\nname = \"rest\"\naction = \"offload\"\n",
      dir.path());
  config::MessageFacts m{"alice@example.org", "", "", "s", {"bob@example.net", "carol@example.org"}, 100};
  RecipientPlan plan = plan_recipients(p, m, {{"a.pdf", "application/pdf", 10}});
  EXPECT_FALSE(plan.per_recipient);
  EXPECT_NE(plan.shared_because.find("different"), std::string::npos);
  EXPECT_EQ(plan.linked, m.recipients);
}

TEST(RecipientPlan, NobodyOffloadsMeansNoLinks) {
  attachgate::testing::TempDir dir;
  config::Policy p = policy_of("[[rule]]\nname = \"in\"\nrecipients = \"all_internal\"\naction = \"keep\"\n",
                               dir.path());
  config::MessageFacts m{"alice@example.org", "", "", "s", {"carol@example.org"}, 100};
  RecipientPlan plan = plan_recipients(p, m, {{"a.pdf", "application/pdf", 10}});
  EXPECT_TRUE(plan.linked.empty());
  EXPECT_EQ(plan.keep, m.recipients);
  ASSERT_EQ(plan.decisions.size(), 1u);
  EXPECT_EQ(plan.decisions[0].action, config::Action::keep);
}

// ---- the copy's header block -----------------------------------------------

TEST(RecipientCopy, HeaderChangesActAsTheMtaAppliesThem) {
  const std::string block =
      "Subject: [secure] hi\r\nContent-Type: multipart/mixed;\r\n\tboundary=\"x\"\r\n"
      "To: a@example.net\r\nContent-Type: text/plain\r\n";
  const std::string out = apply_header_changes(
      block, {{HeaderChange::Op::change, "Subject", "hi"},
              {HeaderChange::Op::change, "content-type", "text/plain;\n charset=utf-8"},
              {HeaderChange::Op::remove, "To", ""},
              {HeaderChange::Op::add, "X-Attachgate", "offloaded=1"}});
  EXPECT_EQ(out,
            "Subject: hi\r\nContent-Type: text/plain;\r\n charset=utf-8\r\n"
            "Content-Type: text/plain\r\nX-Attachgate: offloaded=1\r\n");
}

TEST(RecipientCopy, TheHeaderBlockEndsAtTheFirstEmptyLine) {
  attachgate::testing::TempDir dir;
  Spool spool(dir.path(), 8);  // on disk after 8 bytes: read back in pieces
  ASSERT_TRUE(spool.append("A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore").ok());
  EXPECT_EQ(header_block(spool, 1000).value(), "A: 1\r\nB: 2\r\n");
  Spool endless(dir.path(), 8);
  ASSERT_TRUE(endless.append("A: " + std::string(5000, 'a') + "\r\n").ok());
  EXPECT_FALSE(header_block(endless, 1000).ok());
}

}  // namespace
}  // namespace attachgate::milter::testing
