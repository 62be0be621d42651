// Tests store/catalog_gates.cc: a ticket carries one transfer at a time
// (leases that renew, end, close the ticket and run out after a crash),
// and access-code attempts are counted before the check, so racing
// guesses get no more checks than the pause and lock allow. The races run
// many threads over several connections, as several web processes would.
#include "store/catalog.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "store/secrets.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::store {
namespace {

constexpr std::int64_t kNow = 1'790'000'000;
constexpr std::int64_t kLease = 60;
constexpr int kConnections = 4;

class CatalogGatesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
    ASSERT_TRUE(c.ok()) << c.error().message;
    catalog_.emplace(std::move(*c));
    Offload o;
    o.now = kNow;
    o.message.queue_id = "Q1";
    o.files.push_back({"a.pdf", "application/pdf", BlobInfo{new_public_id(16), 10, std::string(64, '0')}});
    NewLink link;
    link.token_hash = TokenHasher(Key{}).hash(new_token());
    link.pixel_id = new_public_id(16);
    link.expires_at = kNow + 86400;
    link.code_hash = "unused here";
    o.links.push_back(link);
    auto ids = catalog_->record_offload(o);
    ASSERT_TRUE(ids.ok()) << ids.error().message;
    link_id_ = ids->link_ids[0];
    NewDownload d;
    d.link_id = link_id_;
    d.file_ids = {catalog_->link_files(link_id_).value()[0].file.id};
    d.ticket_hash = TokenHasher(Key{}).hash(new_token());
    d.now = kNow;
    d.resume_until = kNow + 3600;
    auto won = catalog_->claim_download(d);
    ASSERT_TRUE(won.ok() && won->outcome == Claim::won);
    download_id_ = won->download_id;
  }

  // More connections to the same file, as other processes would hold.
  std::vector<Catalog> connections(int n) {
    std::vector<Catalog> out;
    for (int i = 0; i < n; ++i) out.push_back(std::move(Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db")).value()));
    return out;
  }

  TransferStart begin(const std::string& owner, std::int64_t now) {
    return catalog_->begin_transfer(download_id_, owner, now, kLease).value();
  }

  testing::TempDir dir_;
  std::optional<Catalog> catalog_;
  std::int64_t link_id_ = 0, download_id_ = 0;
};

TEST_F(CatalogGatesTest, OneTransferAtATimeAndAnEndLetsTheNextGoOn) {
  EXPECT_EQ(begin("a", kNow), TransferStart::started);
  EXPECT_EQ(begin("b", kNow), TransferStart::busy);
  EXPECT_TRUE(catalog_->renew_transfer(download_id_, "a", kNow + 2 * kLease).value());
  EXPECT_FALSE(catalog_->renew_transfer(download_id_, "b", kNow + 2 * kLease).value());
  // A transfer that does not hold the ticket cannot end or close it.
  EXPECT_FALSE(catalog_->end_transfer(download_id_, "b", kNow).value());
  EXPECT_TRUE(catalog_->end_transfer(download_id_, "a", std::nullopt).value());  // interrupted
  EXPECT_FALSE(catalog_->end_transfer(download_id_, "a", std::nullopt).value());  // only once
  // The resume goes on, and its completion closes the ticket once.
  EXPECT_EQ(begin("b", kNow + 1), TransferStart::started);
  EXPECT_TRUE(catalog_->end_transfer(download_id_, "b", kNow + 2).value());
  EXPECT_FALSE(catalog_->end_transfer(download_id_, "b", kNow + 3).value());
  EXPECT_EQ(begin("c", kNow + 4), TransferStart::finished);
  EXPECT_FALSE(catalog_->renew_transfer(download_id_, "b", kNow + kLease).value());
}

TEST_F(CatalogGatesTest, ALeaseACrashLeftRunsOutAndItsHolderCannotCloseTheTicket) {
  ASSERT_EQ(begin("crashed", kNow), TransferStart::started);
  EXPECT_EQ(begin("b", kNow + kLease - 1), TransferStart::busy);
  EXPECT_EQ(begin("b", kNow + kLease), TransferStart::started);
  // The old holder, had it lived on, has lost the ticket.
  EXPECT_FALSE(catalog_->renew_transfer(download_id_, "crashed", kNow + 2 * kLease).value());
  EXPECT_FALSE(catalog_->end_transfer(download_id_, "crashed", kNow + kLease).value());
  EXPECT_EQ(begin("c", kNow + kLease + 1), TransferStart::busy);  // still b's, and open
  EXPECT_TRUE(catalog_->end_transfer(download_id_, "b", kNow + kLease + 2).value());
}

TEST_F(CatalogGatesTest, AnExpiredLeaseNobodyTookStaysWithItsHolder) {
  ASSERT_EQ(begin("slow", kNow), TransferStart::started);
  EXPECT_TRUE(catalog_->renew_transfer(download_id_, "slow", kNow + 5 * kLease).value());
  EXPECT_TRUE(catalog_->end_transfer(download_id_, "slow", kNow + 5 * kLease).value());
}

TEST_F(CatalogGatesTest, PastTheResumeTimeOrUnknownNoTransferStarts) {
  EXPECT_EQ(begin("a", kNow + 3600), TransferStart::over);
  EXPECT_EQ(catalog_->begin_transfer(download_id_ + 99, "a", kNow, kLease).value(),
            TransferStart::unknown);
}

TEST_F(CatalogGatesTest, ManyRacingTransfersStartOnceAndCompleteOnce) {
  auto conns = connections(kConnections);
  std::atomic<bool> go{false};
  std::atomic<int> started{0}, closed{0}, busy{0}, finished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 64; ++t) {
    threads.emplace_back([&, t] {
      Catalog& c = conns[t % kConnections];
      const std::string owner = "t" + std::to_string(t);
      while (!go) std::this_thread::yield();
      // Each one tries until the ticket is finished, as impatient clients would.
      for (int round = 0; round < 100000; ++round) {
        auto s = c.begin_transfer(download_id_, owner, kNow, kLease);
        ASSERT_TRUE(s.ok()) << s.error().message;
        if (*s == TransferStart::finished) { ++finished; return; }
        if (*s == TransferStart::busy) { ++busy; std::this_thread::yield(); continue; }
        ASSERT_EQ(*s, TransferStart::started);
        ++started;
        // Every third one is cut off; the others send everything.
        const bool complete = (t % 3) != 0;
        auto e = c.end_transfer(download_id_, owner, complete ? std::optional<std::int64_t>(kNow) : std::nullopt);
        ASSERT_TRUE(e.ok() && *e);
        if (complete) { ++closed; return; }
      }
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(closed.load(), 1);
  EXPECT_GE(started.load(), 1);
  EXPECT_EQ(finished.load(), 63);
}

TEST_F(CatalogGatesTest, CodeAttemptsPauseEveryFiveAndLockAtTwenty) {
  CodeLimits limits;  // 5 per 15 minutes, 20 in all
  for (int i = 1; i <= 4; ++i) {
    auto a = catalog_->begin_code_attempt(link_id_, kNow, limits).value();
    EXPECT_TRUE(a.admitted);
    EXPECT_EQ(a.failed, i);
    EXPECT_EQ(a.locked_until, 0);
    EXPECT_FALSE(a.tripped);
  }
  auto fifth = catalog_->begin_code_attempt(link_id_, kNow, limits).value();
  EXPECT_TRUE(fifth.admitted);
  EXPECT_TRUE(fifth.tripped);
  EXPECT_EQ(fifth.failed, 5);
  EXPECT_EQ(fifth.locked_until, kNow + 15 * 60);
  // Paused: not admitted, and not counted.
  auto paused = catalog_->begin_code_attempt(link_id_, kNow + 15 * 60 - 1, limits).value();
  EXPECT_FALSE(paused.admitted);
  EXPECT_EQ(paused.failed, 5);
  EXPECT_EQ(paused.locked_until, kNow + 15 * 60);
  for (int i = 6; i <= 19; ++i)
    EXPECT_TRUE(catalog_->begin_code_attempt(link_id_, kNow + i * 1000, limits)->admitted) << i;
  auto last = catalog_->begin_code_attempt(link_id_, kNow + 99999, limits).value();
  EXPECT_EQ(last.failed, 20);
  EXPECT_EQ(last.locked_until, kLockedForGood);
  auto later = catalog_->begin_code_attempt(link_id_, kNow + 9'999'999, limits).value();
  EXPECT_FALSE(later.admitted);
  EXPECT_EQ(later.locked_until, kLockedForGood);
  EXPECT_FALSE(catalog_->begin_code_attempt(link_id_ + 99, kNow, limits).ok());
}

TEST_F(CatalogGatesTest, ARightCodeIsRefundedAndLiftsOnlyThePauseItTripped) {
  CodeLimits limits;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(catalog_->begin_code_attempt(link_id_, kNow, limits).ok());
  auto right = catalog_->begin_code_attempt(link_id_, kNow, limits).value();
  ASSERT_TRUE(right.tripped);
  ASSERT_TRUE(catalog_->refund_code_attempt(link_id_, right).ok());
  // Back to four failures and no pause: the next wrong code is the fifth.
  auto wrong = catalog_->begin_code_attempt(link_id_, kNow, limits).value();
  EXPECT_TRUE(wrong.admitted);
  EXPECT_EQ(wrong.failed, 5);
  EXPECT_TRUE(wrong.tripped);
  // A right code racing that wrong one does not lift the wrong one's pause
  // (it was admitted before, as the fourth; here replayed as its refund).
  CodeAttempt earlier{true, 4, 0, false};
  ASSERT_TRUE(catalog_->refund_code_attempt(link_id_, earlier).ok());
  EXPECT_FALSE(catalog_->begin_code_attempt(link_id_, kNow + 1, limits)->admitted);
  // An attempt never admitted has nothing to refund.
  ASSERT_TRUE(catalog_->refund_code_attempt(link_id_, CodeAttempt{}).ok());
  auto after = catalog_->begin_code_attempt(link_id_, kNow + 15 * 60, limits).value();
  EXPECT_EQ(after.failed, 5);
}

// Racing wrong guesses over several connections: exactly `admitted` of
// them get through to the slow check, and the count says so.
void race_codes(std::vector<Catalog>& conns, std::int64_t link_id, const CodeLimits& limits,
                int guesses, int* admitted, CodeAttempt* last) {
  std::atomic<bool> go{false};
  std::atomic<int> in{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < guesses; ++t) {
    threads.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      auto a = conns[t % conns.size()].begin_code_attempt(link_id, kNow, limits);
      ASSERT_TRUE(a.ok()) << a.error().message;
      if (a->admitted) ++in;
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  *admitted = in;
  CodeLimits none;
  *last = conns[0].begin_code_attempt(link_id, kNow, none).value();  // not admitted: paused or locked
}

TEST_F(CatalogGatesTest, AHundredRacingGuessesGetFiveChecksBeforeThePause) {
  auto conns = connections(kConnections);
  int admitted = 0;
  CodeAttempt after;
  race_codes(conns, link_id_, CodeLimits{}, 100, &admitted, &after);
  EXPECT_EQ(admitted, 5);
  EXPECT_FALSE(after.admitted);
  EXPECT_EQ(after.failed, 5);
  EXPECT_EQ(after.locked_until, kNow + 15 * 60);
}

TEST_F(CatalogGatesTest, AHundredRacingGuessesGetTwentyChecksBeforeTheLock) {
  auto conns = connections(kConnections);
  CodeLimits no_pause;
  no_pause.per_pause = 1000;
  int admitted = 0;
  CodeAttempt after;
  race_codes(conns, link_id_, no_pause, 100, &admitted, &after);
  EXPECT_EQ(admitted, 20);
  EXPECT_FALSE(after.admitted);
  EXPECT_EQ(after.failed, 20);
  EXPECT_EQ(after.locked_until, kLockedForGood);
}

}  // namespace
}  // namespace attachgate::store
