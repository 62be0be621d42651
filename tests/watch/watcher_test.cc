// Tests watch/watcher.cc against a real catalog: Postfix lines for our
// queue ids become events, other mail is ignored, and a new watcher (a
// restart) neither repeats nor misses a line, also across a rotation.
#include "watch/watcher.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "store/catalog.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::watch {
namespace {

constexpr std::int64_t kNow = 1795464000;  // 2026-11-23 20:00:00 UTC

std::string line(const std::string& queue_id, const std::string& rcpt, const std::string& status,
                 const std::string& reply) {
  return "Nov 23 18:00:32 mail postfix/smtp[123]: " + queue_id + ": to=<" + rcpt +
         ">, relay=127.0.0.1[127.0.0.1]:2526, delay=0.1, delays=0.05/0/0.02/0.03, dsn=2.0.0, status=" +
         status + " (" + reply + ")\n";
}

class WatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
    auto c = store::Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
    ASSERT_TRUE(c.ok()) << c.error().message;
    catalog_.emplace(std::move(*c));
    store::Offload o;
    o.now = kNow - 4 * 3600;  // 16:00, before the log lines
    o.message.queue_id = "4F2A1B3C";
    o.message.sender = "alice@example.org";
    o.message.recipients = {"bob@example.net"};
    auto ids = catalog_->record_offload(o);
    ASSERT_TRUE(ids.ok()) << ids.error().message;
    message_id_ = ids->message_public_id;
  }

  void append(const std::string& text) { std::ofstream(log_, std::ios::app) << text; }

  std::unique_ptr<Watcher> watcher() {
    auto w = Watcher::open(*catalog_, log_);
    EXPECT_TRUE(w.ok());
    return std::move(*w);
  }

  Watcher::Round poll(Watcher& w) {
    auto round = w.poll_once(kNow);
    EXPECT_TRUE(round.ok()) << (round.ok() ? "" : round.error().message);
    return round.ok() ? *round : Watcher::Round{};
  }

  // The kinds of the message's events after `offloaded`, in order.
  std::vector<std::string> delivery_kinds() {
    auto shown = catalog_->show_message(message_id_);
    EXPECT_TRUE(shown.ok() && shown->has_value());
    std::vector<std::string> kinds;
    for (const auto& e : (*shown)->events)
      if (e.kind != store::EventKind::offloaded) kinds.emplace_back(store::to_string(e.kind));
    return kinds;
  }

  testing::TempDir dir_;
  std::string log_ = dir_ / "maillog";
  std::optional<store::Catalog> catalog_;
  std::string message_id_;
};

TEST_F(WatcherTest, RecordsOurMailAndIgnoresTheRest) {
  auto w = watcher();
  append(line("4F2A1B3C", "bob@example.net", "deferred", "connect to x: Connection refused"));
  append(line("DEADBEEF1", "someone@example.com", "sent", "250 ok"));  // not ours
  append("Nov 23 18:00:33 mail postfix/qmgr[9]: 4F2A1B3C: removed\n");
  append(line("4F2A1B3C", "bob@example.net", "sent", "250 2.0.0 Ok: queued as ABC"));
  auto round = poll(*w);
  EXPECT_EQ(round.lines, 4);
  EXPECT_EQ(round.reports, 3);
  EXPECT_EQ(round.recorded, 2);
  EXPECT_EQ(delivery_kinds(), (std::vector<std::string>{"deferred", "delivered"}));
  auto shown = catalog_->show_message("4F2A1B3C");
  ASSERT_TRUE(shown.ok() && shown->has_value());
  const auto& delivered = (*shown)->events.back();
  EXPECT_EQ(delivered.recipient, "bob@example.net");
  EXPECT_EQ(delivered.at, kNow - 7168);  // 18:00:32, from the line
  EXPECT_EQ(delivered.detail,
            "relay=127.0.0.1[127.0.0.1]:2526; dsn=2.0.0; 250 2.0.0 Ok: queued as ABC");
}

TEST_F(WatcherTest, RestartContinuesWithoutRepeatsAcrossARotation) {
  append(line("4F2A1B3C", "bob@example.net", "deferred", "try 1"));
  EXPECT_EQ(poll(*watcher()).recorded, 1);
  // Stopped; meanwhile a line, a rotation and a line in the new file.
  append(line("4F2A1B3C", "bob@example.net", "deferred", "try 2"));
  ASSERT_EQ(std::rename(log_.c_str(), (log_ + ".1").c_str()), 0);
  append(line("4F2A1B3C", "bob@example.net", "bounced", "550 no"));
  auto w = watcher();
  int recorded = 0;
  for (int i = 0; i < 5; ++i) recorded += poll(*w).recorded;
  EXPECT_EQ(recorded, 2);
  EXPECT_EQ(delivery_kinds(), (std::vector<std::string>{"deferred", "deferred", "bounced"}));
  // And once more: the saved position is the end of the new file.
  EXPECT_EQ(poll(*watcher()).lines, 0);
  EXPECT_EQ(delivery_kinds().size(), 3u);
}

}  // namespace
}  // namespace attachgate::watch
