// Tests store/catalog_recipients.cc: one recipient's link found and revoked
// without touching the others (matched without regard to case), and the
// completed downloads per link and file the status page shows; plus the
// recipient on the events of a whole-message revoke and extend; and "send
// again" (resend_recipient_link), also with racing connections.
#include "store/catalog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "store/secrets.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::store {
namespace {

constexpr std::int64_t kNow = 1'790'000'000;
constexpr std::int64_t kDay = 86400;

class CatalogRecipientsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
    ASSERT_TRUE(c.ok()) << c.error().message;
    catalog_.emplace(std::move(*c));
    ASSERT_TRUE(catalog_->set_outbox_key(Key{}).ok());
  }

  ResendRequest resend_request(std::int64_t now, int max_links = 0, std::int64_t latest = 0) {
    ResendRequest r;
    r.token = new_token();
    r.token_hash = hasher_.hash(r.token);
    r.pixel_id = new_public_id(16);
    r.now = now;
    r.by = "the sender";
    r.max_links = max_links;
    r.latest_expiry = latest;
    return r;
  }

  std::vector<OutboxItem> fresh_links(std::int64_t now) {
    auto due = catalog_->due_outbox(now, 100);  // kept alive while iterating
    EXPECT_TRUE(due.ok()) << due.error().message;
    std::vector<OutboxItem> out;
    for (auto& item : *due)
      if (item.kind == OutboxKind::fresh_link) out.push_back(item);
    return out;
  }

  // Two files; a link of its own for each of `links` (nullopt: one shared
  // link); the recipients table lists `recipients`.
  OffloadIds offload(const std::string& queue_id, std::vector<std::string> recipients,
                     std::vector<std::optional<std::string>> links) {
    Offload o;
    o.now = kNow;
    o.message.queue_id = queue_id;
    o.message.sender = "alice@example.org";
    o.message.recipients = std::move(recipients);
    for (int i = 0; i < 2; ++i)
      o.files.push_back({"f" + std::to_string(i) + ".pdf", "application/pdf",
                         BlobInfo{new_public_id(16), 1000, std::string(64, '0')}});
    for (const auto& r : links) {
      NewLink link;
      link.token_hash = hasher_.hash(new_token());
      link.pixel_id = new_public_id(16);
      link.recipient = r;
      link.expires_at = kNow + 7 * kDay;
      o.links.push_back(link);
    }
    auto ids = catalog_->record_offload(o);
    EXPECT_TRUE(ids.ok()) << ids.error().message;
    return *ids;
  }

  MessageDetail detail(const std::string& id) {
    auto d = catalog_->show_message(id);
    EXPECT_TRUE(d.ok() && d->has_value()) << id;
    return **d;
  }

  std::vector<EventRecord> events_of(const std::string& id, EventKind kind) {
    std::vector<EventRecord> out;
    for (const auto& e : detail(id).events)
      if (e.kind == kind) out.push_back(e);
    return out;
  }

  // A completed claim of `files` through link_id at `at`.
  void download(std::int64_t link_id, std::vector<std::int64_t> files, std::int64_t at,
                bool complete = true) {
    NewDownload d;
    d.link_id = link_id;
    d.file_ids = std::move(files);
    d.all = d.file_ids.size() > 1;
    d.ticket_hash = hasher_.hash(new_token());
    d.now = at;
    d.resume_until = at + 3600;
    auto won = catalog_->claim_download(d);
    ASSERT_TRUE(won.ok()) << won.error().message;
    ASSERT_EQ(won->outcome, Claim::won);
    if (complete) {
      ASSERT_TRUE(catalog_->complete_download(won->download_id, at + 5).value());
    }
  }

  testing::TempDir dir_;
  std::optional<Catalog> catalog_;
  TokenHasher hasher_{Key{}};
};

TEST_F(CatalogRecipientsTest, FindsARecipientsLinkWithoutRegardToCase) {
  auto ids = offload("Q1", {"bob@example.net", "carol@example.com", "dave@corp.example"},
                     {"bob@example.net", "Carol@Example.com"});
  auto bob = catalog_->recipient_link(ids.message_id, "BOB@example.NET");
  ASSERT_TRUE(bob.ok()) << bob.error().message;
  ASSERT_TRUE(bob->has_value());
  EXPECT_EQ((*bob)->id, ids.link_ids[0]);
  auto carol = catalog_->recipient_link(ids.message_id, "carol@example.com").value();
  ASSERT_TRUE(carol.has_value());
  EXPECT_EQ(carol->id, ids.link_ids[1]);
  EXPECT_FALSE(catalog_->recipient_link(ids.message_id, "dave@corp.example").value())
      << "an internal recipient has no link of their own";

  // A shared link is nobody's own.
  auto shared = offload("Q2", {"bob@example.net"}, {std::nullopt});
  EXPECT_FALSE(catalog_->recipient_link(shared.message_id, "bob@example.net").value());
  // Another message's link for the same address is not this one's.
  EXPECT_FALSE(catalog_->recipient_link(shared.message_id, "carol@example.com").value());
}

TEST_F(CatalogRecipientsTest, RevokingOneRecipientLeavesTheOthersAndRecordsItOnce) {
  auto ids = offload("Q1", {"bob@example.net", "carol@example.com"},
                     {"bob@example.net", "carol@example.com"});
  auto first = catalog_->revoke_recipient_link(ids.message_id, "CAROL@example.com", kNow + 60,
                                               "the sender");
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->links, 1);

  MessageDetail d = detail("Q1");
  ASSERT_EQ(d.links.size(), 2u);
  EXPECT_FALSE(d.links[0].revoked_at.has_value()) << "bob's link was revoked too";
  EXPECT_EQ(d.links[1].revoked_at, kNow + 60);
  auto revoked = events_of("Q1", EventKind::revoked);
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].recipient, "carol@example.com") << "the link's spelling, not the typed one";
  EXPECT_EQ(revoked[0].link_id, ids.link_ids[1]);
  EXPECT_EQ(revoked[0].detail, "by the sender");
  EXPECT_EQ(revoked[0].at, kNow + 60);

  // Again: nothing changes, nothing is recorded.
  auto again = catalog_->revoke_recipient_link(ids.message_id, "carol@example.com", kNow + 90, "x");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->links, 0);
  EXPECT_EQ(detail("Q1").links[1].revoked_at, kNow + 60);
  EXPECT_EQ(events_of("Q1", EventKind::revoked).size(), 1u);

  // No link for that address: none, and nothing changes.
  auto nobody = catalog_->revoke_recipient_link(ids.message_id, "eve@example.org", kNow + 95, "x");
  ASSERT_TRUE(nobody.ok());
  EXPECT_FALSE(nobody->has_value());
  EXPECT_FALSE(detail("Q1").links[0].revoked_at.has_value());

  // Bob still downloads; Carol cannot.
  auto files = catalog_->link_files(ids.link_ids[0]).value();
  download(ids.link_ids[0], {files[0].file.id}, kNow + 100);
  NewDownload c;
  c.link_id = ids.link_ids[1];
  c.file_ids = {files[0].file.id};
  c.ticket_hash = hasher_.hash(new_token());
  c.now = c.resume_until = kNow + 110;
  EXPECT_EQ(catalog_->claim_download(c).value().outcome, Claim::unavailable);
}

TEST_F(CatalogRecipientsTest, WholeMessageRevokeAndExtendNameEachLinksRecipient) {
  auto ids = offload("Q1", {"bob@example.net", "carol@example.com"},
                     {"bob@example.net", "carol@example.com"});
  ASSERT_EQ(catalog_->extend_message_links(ids.message_id, kDay, kNow + 1, "admin").value().links, 2);
  auto extended = events_of("Q1", EventKind::extended);
  ASSERT_EQ(extended.size(), 2u);
  EXPECT_EQ(extended[0].recipient, "bob@example.net");
  EXPECT_EQ(extended[1].recipient, "carol@example.com");

  ASSERT_EQ(catalog_->revoke_message_links(ids.message_id, kNow + 2, "admin").value().links, 2);
  auto revoked = events_of("Q1", EventKind::revoked);
  ASSERT_EQ(revoked.size(), 2u);
  EXPECT_EQ(revoked[0].recipient, "bob@example.net");
  EXPECT_EQ(revoked[1].recipient, "carol@example.com");

  // A shared link's events name nobody.
  auto shared = offload("Q2", {"bob@example.net"}, {std::nullopt});
  ASSERT_TRUE(catalog_->revoke_message_links(shared.message_id, kNow + 3, "admin").ok());
  auto shared_revoked = events_of("Q2", EventKind::revoked);
  ASSERT_EQ(shared_revoked.size(), 1u);
  EXPECT_EQ(shared_revoked[0].recipient, "");
}

TEST_F(CatalogRecipientsTest, CompletedDownloadsArePerLinkAndFileOldestFirst) {
  auto ids = offload("Q1", {"bob@example.net", "carol@example.com"},
                     {"bob@example.net", "carol@example.com"});
  auto other = offload("Q2", {"bob@example.net"}, {"bob@example.net"});
  auto files = catalog_->link_files(ids.link_ids[0]).value();
  const std::int64_t f0 = files[0].file.id, f1 = files[1].file.id;
  download(ids.link_ids[1], {f0, f1}, kNow + 200);        // carol: a zip of both
  download(ids.link_ids[0], {f1}, kNow + 100);            // bob: the second file
  download(ids.link_ids[0], {f0}, kNow + 300, false);     // claimed, never completed
  auto theirs = catalog_->link_files(other.link_ids[0]).value();
  download(other.link_ids[0], {theirs[0].file.id}, kNow + 150);  // another message

  auto got = catalog_->completed_downloads_by_file(ids.message_id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].link_id, ids.link_ids[0]);
  EXPECT_EQ((*got)[0].file_id, f1);
  EXPECT_EQ((*got)[0].at, kNow + 105);
  EXPECT_EQ((*got)[1].link_id, ids.link_ids[1]);
  EXPECT_EQ((*got)[1].file_id, f0);
  EXPECT_EQ((*got)[2].link_id, ids.link_ids[1]);
  EXPECT_EQ((*got)[2].file_id, f1);
  EXPECT_EQ((*got)[2].at, kNow + 205);
}

TEST_F(CatalogRecipientsTest, SendAgainRevokesTheUsedUpLinkAndIssuesANewOneToTheSameFiles) {
  auto ids = offload("Q1", {"bob@example.net", "carol@example.com"},
                     {"bob@example.net", "carol@example.com"});
  const std::int64_t old_link = ids.link_ids[0];
  auto files = catalog_->link_files(old_link).value();
  download(old_link, {files[0].file.id, files[1].file.id}, kNow + 100);  // bob used it up

  const ResendRequest r = resend_request(kNow + kDay);
  auto done = catalog_->resend_recipient_link(ids.message_id, "BOB@example.net", r);
  ASSERT_TRUE(done.ok()) << done.error().message;
  ASSERT_EQ(done->outcome, ResendOutcome::sent);
  EXPECT_EQ(done->links, 2);
  // As long a lifetime as the first link had, from now.
  EXPECT_EQ(done->expires_at, kNow + kDay + 7 * kDay);

  auto fresh = catalog_->find_link_by_token_hash(r.token_hash).value();
  ASSERT_TRUE(fresh.has_value());
  EXPECT_EQ(fresh->id, done->link_id);
  EXPECT_EQ(fresh->recipient, std::optional<std::string>("bob@example.net"));
  EXPECT_EQ(fresh->max_downloads, 1);
  EXPECT_FALSE(fresh->revoked_at.has_value());
  auto fresh_files = catalog_->link_files(fresh->id).value();
  ASSERT_EQ(fresh_files.size(), 2u);
  EXPECT_EQ(fresh_files[0].downloads, 0);
  const MessageDetail d = detail("Q1");
  ASSERT_EQ(d.links.size(), 3u);
  EXPECT_EQ(d.links[0].revoked_at, std::optional<std::int64_t>(kNow + kDay));
  EXPECT_FALSE(d.links[1].revoked_at.has_value()) << "carol's link is untouched";

  // The trail: the old link revoked, the new one sent, both naming bob.
  auto revoked = events_of("Q1", EventKind::revoked);
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].link_id, std::optional<std::int64_t>(old_link));
  EXPECT_NE(revoked[0].detail.find("by the sender"), std::string::npos) << revoked[0].detail;
  EXPECT_NE(revoked[0].detail.find("new link"), std::string::npos) << revoked[0].detail;
  auto resent = events_of("Q1", EventKind::resent);
  ASSERT_EQ(resent.size(), 1u);
  EXPECT_EQ(resent[0].link_id, std::optional<std::int64_t>(fresh->id));
  EXPECT_EQ(resent[0].recipient, "bob@example.net");

  // The fresh link's row is due now and carries the token, nothing else.
  auto rows = fresh_links(kNow + kDay);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].target, "bob@example.net");
  EXPECT_EQ(rows[0].payload, r.token);
  EXPECT_EQ(rows[0].link_id, std::optional<std::int64_t>(fresh->id));

  // Bob downloads again through the new link, not the old one.
  download(fresh->id, {files[0].file.id}, kNow + kDay + 10);
  NewDownload old;
  old.link_id = old_link;
  old.file_ids = {files[1].file.id};
  old.ticket_hash = hasher_.hash(new_token());
  old.now = old.resume_until = kNow + kDay + 20;
  EXPECT_NE(catalog_->claim_download(old).value().outcome, Claim::won);
}

TEST_F(CatalogRecipientsTest, SendAgainWithoutALinkOfTheirOwnOrFilesChangesNothing) {
  auto shared = offload("Q1", {"bob@example.net"}, {std::nullopt});
  auto none = catalog_->resend_recipient_link(shared.message_id, "bob@example.net",
                                              resend_request(kNow + 1));
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ(none->outcome, ResendOutcome::no_link);

  auto ids = offload("Q2", {"bob@example.net", "dave@corp.example"}, {"bob@example.net"});
  EXPECT_EQ(catalog_->resend_recipient_link(ids.message_id, "dave@corp.example",
                                            resend_request(kNow + 2)).value().outcome,
            ResendOutcome::no_link)
      << "an internal recipient got the attachments in the mail";
  for (const auto& f : detail("Q2").files) ASSERT_TRUE(catalog_->mark_blob_missing(f.blob_id).value());
  EXPECT_EQ(catalog_->resend_recipient_link(ids.message_id, "bob@example.net",
                                            resend_request(kNow + 3)).value().outcome,
            ResendOutcome::no_files);
  EXPECT_EQ(detail("Q2").links.size(), 1u);
  EXPECT_FALSE(detail("Q2").links[0].revoked_at.has_value());
  EXPECT_TRUE(events_of("Q2", EventKind::resent).empty());
  EXPECT_TRUE(fresh_links(kNow + 10).empty());
}

TEST_F(CatalogRecipientsTest, SendAgainKeepsToTheCallersBounds) {
  auto ids = offload("Q1", {"bob@example.net"}, {"bob@example.net"});
  const std::int64_t latest = kNow + 3 * kDay;
  auto first = catalog_->resend_recipient_link(ids.message_id, "bob@example.net",
                                               resend_request(kNow + 10, 3, latest)).value();
  ASSERT_EQ(first.outcome, ResendOutcome::sent);
  EXPECT_EQ(first.expires_at, latest) << "the bound shortens the new link's life";
  EXPECT_EQ(catalog_->resend_recipient_link(ids.message_id, "bob@example.net",
                                            resend_request(kNow + 20, 3, latest)).value().outcome,
            ResendOutcome::sent);
  auto third = catalog_->resend_recipient_link(ids.message_id, "bob@example.net",
                                               resend_request(kNow + 30, 3, latest)).value();
  EXPECT_EQ(third.outcome, ResendOutcome::too_many);
  EXPECT_EQ(third.links, 3);
  EXPECT_EQ(catalog_->resend_recipient_link(ids.message_id, "bob@example.net",
                                            resend_request(latest, 0, latest)).value().outcome,
            ResendOutcome::too_late);
  EXPECT_EQ(fresh_links(latest).size(), 2u);
}

TEST_F(CatalogRecipientsTest, RacingSendAgainFromManyConnectionsKeepsTheLimit) {
  auto ids = offload("Q1", {"bob@example.net"}, {"bob@example.net"});
  constexpr int kRacers = 12, kMaxLinks = 4;
  std::vector<ResendRequest> requests;
  for (int i = 0; i < kRacers; ++i) requests.push_back(resend_request(kNow + 10, kMaxLinks));
  std::vector<ResendOutcome> outcomes(kRacers, ResendOutcome::no_link);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRacers; ++i)
    threads.emplace_back([&, i] {
      // A connection each, as separate web workers and admins would have.
      auto c = Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
      ASSERT_TRUE(c.ok()) << c.error().message;
      ASSERT_TRUE(c->set_outbox_key(Key{}).ok());
      auto done = c->resend_recipient_link(ids.message_id, "bob@example.net", requests[i]);
      ASSERT_TRUE(done.ok()) << done.error().message;
      outcomes[i] = done->outcome;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), ResendOutcome::sent), kMaxLinks - 1);
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), ResendOutcome::too_many),
            kRacers - (kMaxLinks - 1));
  const MessageDetail d = detail("Q1");
  ASSERT_EQ(d.links.size(), static_cast<std::size_t>(kMaxLinks));
  int live = 0;
  for (const auto& l : d.links) live += !l.revoked_at.has_value();
  EXPECT_EQ(live, 1) << "every link but the newest is revoked";
  EXPECT_EQ(events_of("Q1", EventKind::resent).size(), static_cast<std::size_t>(kMaxLinks - 1));
  EXPECT_EQ(fresh_links(kNow + 10).size(), static_cast<std::size_t>(kMaxLinks - 1));
}

}  // namespace
}  // namespace attachgate::store
