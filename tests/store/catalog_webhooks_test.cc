// Tests store/catalog_webhooks.cc: the cursor starts at the newest event
// (no history), only the reported kinds are read, the cursor moves with the
// batch, the queue bound gives up the oldest rows, and a cursor left past
// deleted events is pulled back.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "store/catalog.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::store {
namespace {

constexpr std::int64_t kNow = 1'790'000'000;

class CatalogWebhooksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
    ASSERT_TRUE(c.ok()) << c.error().message;
    catalog_.emplace(std::move(*c));
    Key key;
    key.fill(7);
    ASSERT_TRUE(catalog_->set_outbox_key(key).ok());
  }

  std::int64_t offload(const std::string& queue_id) {
    Offload o;
    o.now = kNow;
    o.message.queue_id = queue_id;
    o.message.sender = "alice@example.org";
    o.message.subject = "Plans";
    o.message.recipients = {"bob@example.net"};
    auto ids = catalog_->record_offload(o);
    EXPECT_TRUE(ids.ok());
    return ids.ok() ? ids->message_id : 0;
  }

  std::int64_t event(std::int64_t message_id, EventKind kind) {
    EventRecord e;
    e.message_id = message_id;
    e.kind = kind;
    e.at = kNow + 5;
    e.recipient = "bob@example.net";
    return catalog_->add_event(e).value();
  }

  // One webhook row per event read, and the cursor moved past them.
  std::int64_t enqueue_all(std::int64_t max_queue = 10000) {
    auto events = catalog_->webhook_events(100);
    EXPECT_TRUE(events.ok());
    WebhookBatch b;
    b.max_queue = max_queue;
    b.now = kNow;
    for (const auto& e : *events) {
      b.items.push_back({OutboxKind::webhook, e.event.message_id, "https://hooks.example.org/x",
                         std::to_string(e.event.id), kNow});
      b.last_event_id = e.event.id;
    }
    return catalog_->enqueue_webhooks(b).value();
  }

  testing::TempDir dir_;
  std::optional<Catalog> catalog_;
};

TEST_F(CatalogWebhooksTest, NothingBeforeTheCursorIsStartedAndNoHistoryAfter) {
  const std::int64_t m = offload("Q1");
  EXPECT_TRUE(catalog_->webhook_events(100)->empty()) << "webhooks off: nothing read";
  ASSERT_TRUE(catalog_->start_webhook_cursor().ok());
  EXPECT_TRUE(catalog_->webhook_events(100)->empty()) << "the offload before the start";
  event(m, EventKind::opened);
  auto events = catalog_->webhook_events(100);
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].event.kind, EventKind::opened);
  EXPECT_EQ((*events)[0].queue_id, "Q1");
  EXPECT_EQ((*events)[0].sender, "alice@example.org");
  EXPECT_EQ((*events)[0].subject, "Plans");
  // Starting again (a restart) keeps the cursor where it was.
  ASSERT_TRUE(catalog_->start_webhook_cursor().ok());
  EXPECT_EQ(catalog_->webhook_events(100)->size(), 1u);
}

TEST_F(CatalogWebhooksTest, OnlyReportedKindsAndTheCursorMovesWithTheRows) {
  ASSERT_TRUE(catalog_->start_webhook_cursor().ok());
  const std::int64_t m = offload("Q1");
  event(m, EventKind::viewed);
  event(m, EventKind::denied);
  event(m, EventKind::downloaded);
  auto events = catalog_->webhook_events(100);
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].event.kind, EventKind::offloaded);
  EXPECT_EQ((*events)[1].event.kind, EventKind::downloaded);
  EXPECT_EQ(enqueue_all(), 0);
  EXPECT_EQ(catalog_->outbox_depth(OutboxKind::webhook).value(), 2);
  EXPECT_TRUE(catalog_->webhook_events(100)->empty());
  EXPECT_EQ(enqueue_all(), 0);
  EXPECT_EQ(catalog_->outbox_depth(OutboxKind::webhook).value(), 2);
}

TEST_F(CatalogWebhooksTest, TheQueueBoundGivesUpTheOldest) {
  ASSERT_TRUE(catalog_->start_webhook_cursor().ok());
  const std::int64_t m = offload("Q1");
  std::vector<std::int64_t> opens;
  for (int i = 0; i < 4; ++i) opens.push_back(event(m, EventKind::opened));
  EXPECT_EQ(enqueue_all(3), 2) << "five rows, three kept";
  EXPECT_EQ(catalog_->outbox_depth(OutboxKind::webhook).value(), 3);
  auto due = catalog_->due_outbox(kNow, 10).value();
  ASSERT_EQ(due.size(), 3u);
  // The offload and the first open were dropped, the newest kept.
  EXPECT_EQ(due[0].payload, std::to_string(opens[1]));
  EXPECT_EQ(due[2].payload, std::to_string(opens[3]));
  EXPECT_EQ(catalog_->webhook_events(100)->size(), 0u);
}

TEST_F(CatalogWebhooksTest, StoppingForgetsTheCursor) {
  ASSERT_TRUE(catalog_->start_webhook_cursor().ok());
  const std::int64_t m = offload("Q1");
  ASSERT_TRUE(catalog_->stop_webhook_cursor().ok());
  EXPECT_TRUE(catalog_->webhook_events(100)->empty());
  event(m, EventKind::opened);
  ASSERT_TRUE(catalog_->start_webhook_cursor().ok());
  EXPECT_TRUE(catalog_->webhook_events(100)->empty()) << "restarted from the newest event";
}

TEST_F(CatalogWebhooksTest, ACursorPastDeletedEventsIsPulledBack) {
  const std::int64_t m = offload("Q1");
  event(m, EventKind::opened);
  ASSERT_TRUE(catalog_->start_webhook_cursor().ok());
  // Purge forgets the message and its events; new event ids start over.
  ASSERT_TRUE(catalog_->forget_before(kNow + 86400).ok());
  EXPECT_TRUE(catalog_->webhook_events(100)->empty());
  const std::int64_t m2 = offload("Q2");
  auto events = catalog_->webhook_events(100);
  ASSERT_EQ(events->size(), 1u) << "the new offload reuses an old id";
  EXPECT_EQ((*events)[0].event.message_id, m2);
}

}  // namespace
}  // namespace attachgate::store
