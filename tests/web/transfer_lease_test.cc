// Tests web/transfer_lease.cc: the lease a ticket's one transfer holds is
// renewed by reads only once a third of it has passed, a lost lease fails
// the next read, and the transfer ends once, by end() or by letting go.
#include "web/transfer_lease.h"

#include <gtest/gtest.h>

#include <cstring>

#include "store/catalog.h"
#include "store/secrets.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::web {
namespace {

constexpr std::int64_t kNow = 1'790'000'000;

class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string s) : s_(std::move(s)) {}
  std::uint64_t size() const override { return s_.size(); }
  Result<std::size_t> read(void* data, std::size_t size) override {
    std::size_t n = std::min(size, s_.size() - at_);
    std::memcpy(data, s_.data() + at_, n);
    at_ += n;
    return n;
  }
  Status skip(std::uint64_t bytes) override { at_ += bytes; return {}; }

 private:
  std::string s_;
  std::size_t at_ = 0;
};

class TransferLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = store::Catalog::open(attachgate::testing::catalog_at(dir_ / "catalog.db"));
    ASSERT_TRUE(c.ok()) << c.error().message;
    catalog_.emplace(std::move(*c));
    store::Offload o;
    o.now = kNow;
    o.files.push_back({"a.bin", "application/octet-stream",
                       store::BlobInfo{store::new_public_id(16), 3, std::string(64, '0')}});
    store::NewLink link;
    link.token_hash = store::TokenHasher(store::Key{}).hash(store::new_token());
    link.pixel_id = store::new_public_id(16);
    link.expires_at = kNow + 86400;
    o.links.push_back(link);
    auto ids = catalog_->record_offload(o);
    ASSERT_TRUE(ids.ok()) << ids.error().message;
    store::NewDownload d;
    d.link_id = ids->link_ids[0];
    d.file_ids = {catalog_->link_files(d.link_id).value()[0].file.id};
    d.ticket_hash = store::TokenHasher(store::Key{}).hash(store::new_token());
    d.now = kNow;
    d.resume_until = kNow + 3600;
    download_id_ = catalog_->claim_download(d).value().download_id;
  }

  TransferLease::Begun begin() {
    auto b = TransferLease::begin(*catalog_, download_id_, 60, [this] { return now_; });
    EXPECT_TRUE(b.ok());
    return b.ok() ? std::move(*b) : TransferLease::Begun{};
  }

  testing::TempDir dir_;
  std::optional<store::Catalog> catalog_;
  std::int64_t download_id_ = 0;
  std::int64_t now_ = kNow;
};

TEST_F(TransferLeaseTest, OneHolderAtATimeAndLettingGoEndsTheTransfer) {
  auto first = begin();
  ASSERT_EQ(first.start, store::TransferStart::started);
  ASSERT_TRUE(first.lease);
  auto second = begin();
  EXPECT_EQ(second.start, store::TransferStart::busy);
  EXPECT_FALSE(second.lease);
  first.lease.reset();  // dropped without end(): the ticket is free again
  EXPECT_EQ(begin().start, store::TransferStart::started);
}

TEST_F(TransferLeaseTest, ReadsRenewOnceAThirdHasPassedAndFailOnceTheLeaseIsLost) {
  auto held = begin();
  auto source = leased_source(std::make_unique<StringSource>("abcdef"), held.lease);
  char buf[2];
  now_ += 19;
  ASSERT_EQ(source->read(buf, 2).value(), 2u);  // not renewed: held until +60
  now_ = kNow + 60;
  EXPECT_EQ(begin().start, store::TransferStart::started);  // ran out: taken over
  now_ += 1;
  EXPECT_FALSE(source->read(buf, 2).ok());
  EXPECT_FALSE(held.lease->end(now_).value()) << "a lost lease cannot close the ticket";
}

TEST_F(TransferLeaseTest, ARenewedLeaseHoldsAndEndClosesTheTicketOnce) {
  auto held = begin();
  auto source = leased_source(std::make_unique<StringSource>("abcdef"), held.lease);
  char buf[2];
  now_ += 20;
  ASSERT_TRUE(source->read(buf, 2).ok());  // renewed: held until +80
  now_ += 59;
  EXPECT_EQ(begin().start, store::TransferStart::busy);
  EXPECT_TRUE(held.lease->end(now_).value());
  EXPECT_FALSE(held.lease->end(now_).value());
  EXPECT_FALSE(source->read(buf, 2).ok()) << "an ended transfer sends nothing more";
  EXPECT_EQ(begin().start, store::TransferStart::finished);
}

}  // namespace
}  // namespace attachgate::web
