// Tests store/catalog_watch.cc: delivery events matched by queue id (only
// recent messages, never mail that is not ours), cleaned and bounded detail,
// no duplicates, and the watcher's position committed with its batch.
#include <gtest/gtest.h>

#include <string>

#include "store/catalog.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::store {
namespace {

constexpr std::int64_t kNow = 1'790'000'000;

class CatalogWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
    ASSERT_TRUE(c.ok()) << c.error().message;
    catalog_.emplace(std::move(*c));
  }

  std::string offload(const std::string& queue_id, std::int64_t at) {
    Offload o;
    o.now = at;
    o.message.queue_id = queue_id;
    o.message.recipients = {"bob@example.net"};
    auto ids = catalog_->record_offload(o);
    EXPECT_TRUE(ids.ok());
    return ids.ok() ? ids->message_public_id : "";
  }

  std::vector<EventRecord> deliveries(const std::string& id) {
    auto shown = catalog_->show_message(id);
    EXPECT_TRUE(shown.ok() && shown->has_value());
    std::vector<EventRecord> out;
    for (const auto& e : (*shown)->events)
      if (e.kind != EventKind::offloaded) out.push_back(e);
    return out;
  }

  static DeliveryReport report(const std::string& queue_id, EventKind kind = EventKind::delivered) {
    DeliveryReport r;
    r.queue_id = queue_id;
    r.recipient = "bob@example.net";
    r.kind = kind;
    r.at = kNow;
    r.relay = "127.0.0.1[127.0.0.1]:2526";
    r.dsn = "2.0.0";
    r.reply = "250 2.0.0 Ok: queued as ABC";
    return r;
  }

  testing::TempDir dir_;
  std::optional<Catalog> catalog_;
};

TEST_F(CatalogWatchTest, RecordsOneEventPerMessageWithTheQueueId) {
  const std::string id = offload("4F2A1B3C", kNow - 10);
  EXPECT_EQ(catalog_->record_delivery(report("4F2A1B3C")).value(), 1);
  EXPECT_EQ(catalog_->record_delivery(report("UNKNOWN1")).value(), 0);  // not our mail
  EXPECT_EQ(catalog_->record_delivery(report("")).value(), 0);
  auto events = deliveries(id);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, EventKind::delivered);
  EXPECT_EQ(events[0].at, kNow);
  EXPECT_EQ(events[0].recipient, "bob@example.net");
  EXPECT_EQ(events[0].detail, "relay=127.0.0.1[127.0.0.1]:2526; dsn=2.0.0; 250 2.0.0 Ok: queued as ABC");
}

// A recipient copy has its own queue id, on its link: its deliveries are
// the copy's recipient's, named by the link.
TEST_F(CatalogWatchTest, ARecipientCopysQueueIdMatchesItsLink) {
  Offload o;
  o.now = kNow - 10;
  o.message.queue_id = "4F2A1B3C";
  o.message.recipients = {"bob@example.net", "carol@example.com"};
  for (const char* r : {"bob@example.net", "carol@example.com"}) {
    NewLink l;
    l.token_hash = std::string("hash-") + r;
    l.pixel_id = std::string("pixel-") + r;
    l.recipient = r;
    l.expires_at = kNow + 86400;
    o.links.push_back(l);
  }
  auto ids = catalog_->record_offload(o);
  ASSERT_TRUE(ids.ok()) << ids.error().message;
  ASSERT_TRUE(catalog_->set_outbox_key(Key{}).ok());
  NewOutboxItem copy{OutboxKind::recipient_copy, ids->message_id, "carol@example.com", "{}", kNow};
  copy.blob_id = "0123456789abcdef0123456789abcdef";
  ASSERT_TRUE(catalog_->enqueue(copy).ok());
  OutboxItem item = catalog_->due_outbox(kNow, 10).value().at(0);
  item.link_id = ids->link_ids[1];  // as the offload's transaction links it
  ASSERT_TRUE(catalog_->copy_queued(item, "5B3C2D4E", kNow).ok());

  DeliveryReport r = report("5B3C2D4E");
  r.recipient = "carol@example.com";
  EXPECT_EQ(catalog_->record_delivery(r).value(), 1);
  EXPECT_EQ(catalog_->record_delivery(report("4F2A1B3C")).value(), 1) << "the original's, bob's";
  auto events = deliveries(ids->message_public_id);
  std::vector<EventRecord> delivered;
  for (const auto& e : events)
    if (e.kind == EventKind::delivered) delivered.push_back(e);
  ASSERT_EQ(delivered.size(), 2u);
  EXPECT_EQ(delivered[0].recipient, "carol@example.com");
  EXPECT_EQ(delivered[0].link_id, ids->link_ids[1]);
  EXPECT_EQ(delivered[1].recipient, "bob@example.net");
  EXPECT_EQ(delivered[1].link_id, std::nullopt);
}

TEST_F(CatalogWatchTest, AReusedQueueIdMatchesOnlyTheRecentMessage) {
  const std::string old_id = offload("4F2A1B3C", kNow - 90 * 86400);
  const std::string new_id = offload("4F2A1B3C", kNow - 60);
  EXPECT_EQ(catalog_->record_delivery(report("4F2A1B3C")).value(), 1);
  EXPECT_TRUE(deliveries(old_id).empty());
  EXPECT_EQ(deliveries(new_id).size(), 1u);
}

TEST_F(CatalogWatchTest, TheSameEventTwiceIsRecordedOnce) {
  const std::string id = offload("4F2A1B3C", kNow - 10);
  EXPECT_EQ(catalog_->record_delivery(report("4F2A1B3C", EventKind::deferred)).value(), 1);
  EXPECT_EQ(catalog_->record_delivery(report("4F2A1B3C", EventKind::deferred)).value(), 0);
  DeliveryReport later = report("4F2A1B3C", EventKind::deferred);
  later.at += 600;  // the next attempt is a new event
  EXPECT_EQ(catalog_->record_delivery(later).value(), 1);
  EXPECT_EQ(deliveries(id).size(), 2u);
}

TEST_F(CatalogWatchTest, UntrustedTextIsCleanedAndBounded) {
  const std::string id = offload("4F2A1B3C", kNow - 10);
  DeliveryReport r = report("4F2A1B3C", EventKind::bounced);
  r.recipient = "bob\x1b[2J@example.net";
  r.reply = "550 \x1b]0;owned\x07 no" + std::string(5000, 'x');
  ASSERT_EQ(catalog_->record_delivery(r).value(), 1);
  auto events = deliveries(id);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].recipient.find('\x1b'), std::string::npos);
  EXPECT_EQ(events[0].detail.find('\x1b'), std::string::npos);
  EXPECT_EQ(events[0].detail.find('\x07'), std::string::npos);
  EXPECT_LE(events[0].detail.size(), 500u);
  EXPECT_EQ(events[0].detail.rfind("relay=", 0), 0u);
}

TEST_F(CatalogWatchTest, PositionIsSavedAndLoaded) {
  EXPECT_FALSE(catalog_->load_watch_position("/var/log/mail.log").value().has_value());
  // Device numbers can use all 64 bits.
  WatchPosition p{"/var/log/mail.log", 0xfd00000000000001ULL, 1234567, 8192};
  ASSERT_TRUE(catalog_->save_watch_position(p, kNow).ok());
  p.offset = 9000;
  ASSERT_TRUE(catalog_->save_watch_position(p, kNow + 1).ok());
  EXPECT_EQ(catalog_->load_watch_position("/var/log/mail.log").value(), p);
  EXPECT_FALSE(catalog_->load_watch_position("/other").value().has_value());
}

TEST_F(CatalogWatchTest, ABatchAndItsPositionCommitTogether) {
  const std::string id = offload("4F2A1B3C", kNow - 10);
  WatchPosition p{"/log", 1, 2, 300};
  EXPECT_EQ(catalog_->record_deliveries({report("4F2A1B3C"), report("OTHER123")}, p, kNow).value(), 1);
  EXPECT_EQ(catalog_->load_watch_position("/log").value(), p);
  // A batch that fails half way leaves neither its events nor its position:
  // a trigger (fault injection) makes the batch's second insert fail.
  {
    auto other = Db::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE(
        attachgate::testing::fail_inserts(*other, "events", "injected", "NEW.kind = 'bounced'").ok());
  }
  DeliveryReport first = report("4F2A1B3C", EventKind::deferred);
  DeliveryReport second = report("4F2A1B3C", EventKind::bounced);
  auto failed = catalog_->record_deliveries({first, second}, WatchPosition{"/log", 1, 2, 600}, kNow);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("injected"), std::string::npos);
  EXPECT_EQ(catalog_->load_watch_position("/log").value(), p);
  EXPECT_EQ(deliveries(id).size(), 1u);
}

}  // namespace
}  // namespace attachgate::store
