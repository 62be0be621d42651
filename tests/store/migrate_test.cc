// Tests store/migrate.cc: a whole installation (catalog and blob files)
// moved to another catalog and blob directory, checked, opened there with
// the same master key; the source left byte for byte as it was; a second
// run copying nothing; a changed or missing destination blob reported.
#include "store/migrate.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "store/sha256.h"
#include "store/store.h"
#include "tests/store/migrate_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::store {
namespace {

namespace fs = std::filesystem;
using testing_migrate::seed_catalog;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every regular file under dir (or the file itself), by path, as its SHA-256.
std::map<std::string, std::string> hashes(const fs::path& path) {
  std::map<std::string, std::string> out;
  auto add = [&](const fs::path& p) {
    const std::string bytes = read_file(p);
    Sha256 h;
    h.update(bytes.data(), bytes.size());
    out[p.string()] = h.final_hex();
  };
  if (fs::is_regular_file(path)) add(path);
  else
    for (const auto& e : fs::recursive_directory_iterator(path))
      if (e.is_regular_file()) add(e.path());
  return out;
}

class Recorder : public MigrateProgress {
 public:
  void table(const TableCopyReport& r, bool finished) override {
    if (finished) finished_tables.push_back(r.table);
  }
  void blob(const BlobTotals& t, const std::string&) override { blob_lines.push_back(t); }
  std::vector<CatalogTable> finished_tables;
  std::vector<BlobTotals> blob_lines;
};

class MigrateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(source_state(), "", attachgate::testing::catalog_for_state(source_state()));
    ASSERT_TRUE(s.ok()) << s.error().message;
    std::vector<std::string> ids;
    for (int i = 0; i < kBlobs; ++i) {
      auto w = (*s)->blobs.create();
      ASSERT_TRUE(w.ok());
      const std::string data(100'000 + i, static_cast<char>('a' + i));
      ASSERT_TRUE(w->write(data.data(), data.size()).ok());
      ids.push_back(w->commit().value().id);
    }
    blob_ids_ = ids;
    seed_catalog((*s)->catalog, kBlobs, ids);
  }  // the source store closes: attachgate is stopped while it moves

  std::string source_state() { return dir_ / "source"; }
  std::string source_catalog() {
    auto location = attachgate::testing::catalog_for_state(source_state());
    return location.url.empty() ? source_state() + "/catalog.db" : location.url;
  }
  MigrateEnd from() { return {source_catalog(), std::nullopt, source_state(), {}}; }
  MigrateEnd to() {
    return {attachgate::testing::catalog_at(dir_ / "new-catalog.db"), std::nullopt, dir_ / "unused",
            BlobsConfig{"file:" + dir_ / "new-blobs", ""}};
  }
  std::string destination_blob(const std::string& id) {
    return dir_ / "new-blobs" + "/" + id.substr(0, 2) + "/" + id;
  }
  Result<MigrateReport> migrate(Recorder& progress) {
    return migrate_store(from(), to(), progress, MigrateOptions{3});
  }

  static constexpr int kBlobs = 4;
  attachgate::testing::TempDir dir_;
  std::vector<std::string> blob_ids_;
};

TEST_F(MigrateStoreTest, MovesEverythingAndTheCopyOpensWithTheSameKey) {
  const bool sqlite = !attachgate::testing::test_postgres_url();
  const auto before = hashes(source_state() + "/blobs");
  const auto catalog_before = sqlite ? hashes(source_catalog()) : decltype(before){};
  ASSERT_EQ(before.size(), static_cast<std::size_t>(kBlobs));

  Recorder progress;
  auto report = migrate(progress);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->problems, std::vector<std::string>{});
  EXPECT_EQ(report->warnings, std::vector<std::string>{});
  EXPECT_EQ(report->blobs.total, kBlobs);
  EXPECT_EQ(report->blobs.copied, kBlobs);
  EXPECT_EQ(report->blobs.already, 0);
  EXPECT_EQ(report->blobs_verified, kBlobs);
  EXPECT_EQ(report->blobs.bytes_done, report->blobs.bytes_total);
  EXPECT_GT(report->blobs.bytes_total, std::uint64_t{kBlobs} * 100'000);  // ciphertext
  ASSERT_EQ(progress.blob_lines.size(), static_cast<std::size_t>(kBlobs));
  EXPECT_EQ(progress.blob_lines[1].done, 2);
  EXPECT_EQ(progress.finished_tables.size(), std::size(kCopyOrder));
  ASSERT_EQ(report->counts.size(), std::size(kCatalogTables));
  for (const TableCount& c : report->counts) {
    EXPECT_EQ(c.source, c.destination) << table_name(c.table);
    EXPECT_GT(c.source, 0) << table_name(c.table);
  }
  // The blobs are the same bytes: copied, not sealed again.
  for (const std::string& id : blob_ids_)
    EXPECT_EQ(read_file(destination_blob(id)),
              read_file(source_state() + "/blobs/" + id.substr(0, 2) + "/" + id));

  // The source is as it was, to the byte.
  EXPECT_EQ(hashes(source_state() + "/blobs"), before);
  if (sqlite) {
    EXPECT_EQ(hashes(source_catalog()), catalog_before);
  }

  // attachgate opens the copy with the source's master key and reads a file.
  auto moved = Store::open(dir_ / "node2", source_state() + "/master.key",
                           CatalogLocation{to().catalog, ""}, to().blobs);
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  auto message = (*moved)->catalog.show_message("Q1002");
  ASSERT_TRUE(message.ok() && *message);
  auto reader = (*moved)->blobs.open_blob((*message)->files.at(0).blob_id);
  ASSERT_TRUE(reader.ok()) << reader.error().message;
  std::string plain(200'000, '\0');
  std::size_t got = 0;
  for (;;) {
    auto n = reader->read(plain.data() + got, plain.size() - got);
    ASSERT_TRUE(n.ok()) << n.error().message;
    if (*n == 0) break;
    got += *n;
  }
  EXPECT_EQ(plain.substr(0, got), std::string(100'002, 'c'));
}

TEST_F(MigrateStoreTest, TheSourceCatalogIsOpenedForReadingOnly) {
  auto db = Db::open_read_only(source_catalog());
  ASSERT_TRUE(db.ok()) << db.error().message;
  EXPECT_FALSE(db->exec("DELETE FROM events").ok());
  Stmt count(*db, "SELECT count(*) FROM events");
  ASSERT_TRUE(count.step().value());
  EXPECT_GT(count.int64(0), 0);
  if (attachgate::testing::test_postgres_url()) return;
  EXPECT_FALSE(Db::open_read_only(dir_ / "absent.db").ok());
  EXPECT_FALSE(fs::exists(dir_ / "absent.db")) << "a read-only open creates nothing";
}

TEST_F(MigrateStoreTest, ASecondRunCopiesNothingAndFindsAChangedBlob) {
  Recorder first;
  ASSERT_TRUE(migrate(first).ok());

  // As after a kill in the middle of the blobs: one is not there yet.
  fs::remove(destination_blob(blob_ids_[3]));
  // And one was changed in the destination behind our back.
  {
    std::string bytes = read_file(destination_blob(blob_ids_[1]));
    bytes[100] ^= 1;
    std::ofstream(destination_blob(blob_ids_[1]), std::ios::binary | std::ios::trunc) << bytes;
  }
  Recorder second;
  auto report = migrate(second);
  ASSERT_TRUE(report.ok()) << report.error().message;
  for (const TableCopyReport& t : report->tables) {
    EXPECT_EQ(t.copied, 0) << table_name(t.table);
    EXPECT_EQ(t.already, t.source_rows) << table_name(t.table);
  }
  EXPECT_EQ(report->blobs.copied, 1);
  EXPECT_EQ(report->blobs.already, kBlobs - 1);
  EXPECT_EQ(report->blobs_verified, kBlobs - 1);
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_NE(report->problems[0].find("blob " + blob_ids_[1] + " differs in the destination"),
            std::string::npos) << report->problems[0];
  EXPECT_NE(report->problems[0].find("delete it from the destination"), std::string::npos);
}

TEST_F(MigrateStoreTest, ABlobTheSourceLostIsAWarningAndItsRowStillMoves) {
  fs::remove(source_state() + "/blobs/" + blob_ids_[0].substr(0, 2) + "/" + blob_ids_[0]);
  Recorder progress;
  auto report = migrate(progress);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->problems, std::vector<std::string>{});
  ASSERT_EQ(report->warnings.size(), 1u);
  EXPECT_NE(report->warnings[0].find(blob_ids_[0]), std::string::npos);
  EXPECT_EQ(report->blobs.missing_in_source, 1);
  EXPECT_EQ(report->blobs_verified, kBlobs - 1);
}

TEST_F(MigrateStoreTest, RefusesToCopyOntoItselfOrFromNowhere) {
  Recorder progress;
  MigrateEnd same = to();
  same.catalog = source_catalog();
  auto onto_itself = migrate_store(from(), same, progress);
  ASSERT_FALSE(onto_itself.ok());
  EXPECT_NE(onto_itself.error().message.find("--to-catalog"), std::string::npos);

  MigrateEnd same_blobs = to();
  same_blobs.blobs.url = "file:" + source_state() + "/blobs";
  auto blobs_onto_themselves = migrate_store(from(), same_blobs, progress);
  ASSERT_FALSE(blobs_onto_themselves.ok());
  EXPECT_NE(blobs_onto_themselves.error().message.find("--to-blobs"), std::string::npos);

  if (attachgate::testing::test_postgres_url()) return;
  MigrateEnd nowhere = from();
  nowhere.catalog = dir_ / "none/catalog.db";
  nowhere.state_dir = dir_ / "none";
  auto missing = migrate_store(nowhere, to(), progress);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("no such file"), std::string::npos)
      << missing.error().message;
  EXPECT_FALSE(fs::exists(dir_ / "none")) << "nothing is created where the source should be";
}

}  // namespace
}  // namespace attachgate::store
