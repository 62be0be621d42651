// Tests store/blob_store.cc: streaming round trips, tamper and truncation
// detection, and that nothing is left behind by an uncommitted write.
#include "store/blob_store.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace attachgate::store {
namespace {

namespace fs = std::filesystem;

// Deterministic bytes, produced and hashed piece by piece so 100 MB never
// sits in memory.
class Pattern {
 public:
  explicit Pattern(std::uint32_t seed) : state_(seed | 1) {}
  void fill(unsigned char* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      state_ ^= state_ << 13;
      state_ ^= state_ >> 17;
      state_ ^= state_ << 5;
      p[i] = static_cast<unsigned char>(state_);
    }
  }

 private:
  std::uint32_t state_;
};

std::string hex(const unsigned char* d, std::size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), d, n);
  out.pop_back();
  return out;
}

class BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keys = KeyRing::load_or_create(dir_.path());
    ASSERT_TRUE(keys.ok());
    auto store = BlobStore::open(dir_.path(), *keys);
    ASSERT_TRUE(store.ok());
    store_.emplace(std::move(*store));
  }

  // Writes `size` pattern bytes in pieces of `piece`; returns the info and
  // the expected sha256.
  std::pair<BlobInfo, std::string> write_pattern(std::uint64_t size, std::size_t piece) {
    auto w = store_->create();
    EXPECT_TRUE(w.ok());
    Pattern pattern(7);
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    std::vector<unsigned char> buf(piece);
    for (std::uint64_t left = size; left > 0;) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, piece));
      pattern.fill(buf.data(), n);
      crypto_hash_sha256_update(&h, buf.data(), n);
      EXPECT_TRUE(w->write(buf.data(), n).ok());
      left -= n;
    }
    auto info = w->commit();
    EXPECT_TRUE(info.ok()) << (info.ok() ? "" : info.error().message);
    unsigned char digest[32];
    crypto_hash_sha256_final(&h, digest);
    return {*info, hex(digest, 32)};
  }

  // Reads the blob back in odd-sized pieces; returns its sha256 and size.
  Result<std::pair<std::string, std::uint64_t>> read_back(const std::string& id) {
    auto r = store_->open_blob(id);
    if (!r) return r.error();
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    std::vector<unsigned char> buf(50'000);
    std::uint64_t total = 0;
    for (;;) {
      auto n = r->read(buf.data(), buf.size());
      if (!n) return n.error();
      if (*n == 0) break;
      crypto_hash_sha256_update(&h, buf.data(), *n);
      total += *n;
    }
    unsigned char digest[32];
    crypto_hash_sha256_final(&h, digest);
    return std::make_pair(hex(digest, 32), total);
  }

  std::string path_of(const std::string& id) { return dir_ / ("blobs/" + id.substr(0, 2) + "/" + id); }

  testing::TempDir dir_;
  std::optional<BlobStore> store_;
};

TEST_F(BlobStoreTest, RoundTripsEverySizeClass) {
  for (std::uint64_t size : {0ull, 1ull, 65535ull, 65536ull, 65537ull, 3ull * 65536 + 17}) {
    auto [info, sha] = write_pattern(size, 4096);
    EXPECT_EQ(info.size, size);
    EXPECT_EQ(info.sha256, sha) << size;
    auto back = read_back(info.id);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->first, sha) << size;
    EXPECT_EQ(back->second, size);
  }
}

TEST_F(BlobStoreTest, HashOfEmptyBlobIsSha256OfNothing) {
  auto [info, sha] = write_pattern(0, 1);
  EXPECT_EQ(info.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(BlobStoreTest, Streams100MegabytesWithoutHoldingThem) {
  const std::uint64_t size = 100ull * 1000 * 1000;
  auto [info, sha] = write_pattern(size, 1 << 20);
  EXPECT_EQ(info.sha256, sha);
  struct stat st {};
  ASSERT_EQ(::stat(path_of(info.id).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_GT(static_cast<std::uint64_t>(st.st_size), size);  // ciphertext + tags
  auto back = read_back(info.id);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->first, sha);
  EXPECT_EQ(back->second, size);
}

TEST_F(BlobStoreTest, StoredBytesAreNotPlaintext) {
  auto w = store_->create();
  ASSERT_TRUE(w.ok());
  std::string secret = "TOP-SECRET-PAYROLL-2026 " + std::string(1000, 'x');
  ASSERT_TRUE(w->write(secret.data(), secret.size()).ok());
  auto info = w->commit();
  ASSERT_TRUE(info.ok());
  std::ifstream in(path_of(info->id), std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(raw.find("TOP-SECRET"), std::string::npos);
  EXPECT_EQ(raw.find(std::string(64, 'x')), std::string::npos);
}

TEST_F(BlobStoreTest, TamperedByteAnywhereIsAnError) {
  auto [info, sha] = write_pattern(3 * 65536 + 100, 8192);
  const std::string path = path_of(info.id);
  const auto file_size = fs::file_size(path);
  // In the wrapped key, in the stream header, in a middle chunk, in the last tag.
  for (std::uint64_t offset : {std::uint64_t{20}, std::uint64_t{90}, std::uint64_t{70000}, std::uint64_t{file_size} - 1}) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.read(&c, 1);
    c ^= 0x01;
    f.seekp(static_cast<std::streamoff>(offset));
    f.write(&c, 1);
    f.close();
    auto back = read_back(info.id);
    EXPECT_FALSE(back.ok()) << "tamper at " << offset << " was not noticed";
    // Restore and check it reads again, so the next case tests one change.
    std::fstream g(path, std::ios::in | std::ios::out | std::ios::binary);
    c ^= 0x01;
    g.seekp(static_cast<std::streamoff>(offset));
    g.write(&c, 1);
    g.close();
    ASSERT_TRUE(read_back(info.id).ok());
  }
}

TEST_F(BlobStoreTest, TruncatedFileIsAnError) {
  auto [info, sha] = write_pattern(2 * 65536 + 5, 8192);
  const std::string path = path_of(info.id);
  const auto full = fs::file_size(path);
  const std::uint64_t chunk = 65536 + crypto_secretstream_xchacha20poly1305_ABYTES;
  const std::uint64_t header = full - 2 * chunk - (5 + crypto_secretstream_xchacha20poly1305_ABYTES);
  // Cut inside the header, mid-chunk, exactly at a chunk boundary (the
  // final chunk dropped whole), and one byte short.
  for (std::uint64_t size : {header - 3, header + 100, header + 2 * chunk, std::uint64_t{full} - 1}) {
    fs::copy_file(path, path + ".orig", fs::copy_options::overwrite_existing);
    fs::resize_file(path, size);
    EXPECT_FALSE(read_back(info.id).ok()) << "truncation to " << size << " was not noticed";
    fs::rename(path + ".orig", path);
  }
  EXPECT_TRUE(read_back(info.id).ok());
}

TEST_F(BlobStoreTest, BlobMovedToAnotherIdDoesNotDecrypt) {
  auto [a, sha_a] = write_pattern(1000, 100);
  auto [b, sha_b] = write_pattern(2000, 100);
  fs::copy_file(path_of(a.id), path_of(b.id), fs::copy_options::overwrite_existing);
  EXPECT_FALSE(read_back(b.id).ok());
}

TEST_F(BlobStoreTest, WriterDroppedBeforeCommitLeavesNothing) {
  {
    auto w = store_->create();
    ASSERT_TRUE(w.ok());
    std::string data(200'000, 'a');
    ASSERT_TRUE(w->write(data.data(), data.size()).ok());
    EXPECT_EQ(store_->list_temp_files().size(), 1u);
  }
  EXPECT_TRUE(store_->list_temp_files().empty());
  EXPECT_TRUE(store_->list_blob_ids().empty());
}

TEST_F(BlobStoreTest, PendingBlobsRemovesUnlessKept) {
  auto [a, sha_a] = write_pattern(10, 10);
  auto [b, sha_b] = write_pattern(10, 10);
  {
    PendingBlobs pending(*store_);
    pending.add(a.id);
  }
  EXPECT_FALSE(store_->exists(a.id));
  {
    PendingBlobs pending(*store_);
    pending.add(b.id);
    pending.keep();
  }
  EXPECT_TRUE(store_->exists(b.id));
}

TEST_F(BlobStoreTest, SkipThenReadGivesTheRestOfTheBytes) {
  std::string data;
  for (int i = 0; i < 200'000; ++i) data += static_cast<char>('a' + i % 26);
  auto w = store_->create();
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->write(data.data(), data.size()).ok());
  auto info = w->commit();
  ASSERT_TRUE(info.ok());
  auto r = store_->open_blob(info->id);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->skip(150'001).ok());
  std::string rest;
  char buf[7000];
  for (;;) {
    auto n = r->read(buf, sizeof buf);
    ASSERT_TRUE(n.ok());
    if (*n == 0) break;
    rest.append(buf, *n);
  }
  EXPECT_EQ(rest, data.substr(150'001));
}

TEST_F(BlobStoreTest, InvalidIdsAreRefusedNotTurnedIntoPaths) {
  for (const char* id : {"../../master.key", "", "ABCDEF0123456789ABCDEF0123456789",
                         "0123456789abcdef0123456789abcde/"})
    EXPECT_FALSE(store_->open_blob(id).ok()) << id;
}

}  // namespace
}  // namespace attachgate::store
