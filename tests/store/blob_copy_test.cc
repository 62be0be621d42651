// Tests store/blob_copy.cc: an object copied as its bytes, once; one the
// source lacks told apart; the SHA-256 of an object as stored.
#include "store/blob_copy.h"

#include <gtest/gtest.h>

#include "store/file_backend.h"
#include "store/sha256.h"
#include "tests/support/temp_dir.h"

namespace attachgate::store {
namespace {

TEST(MigrateBlobCopyTest, CopiesTheBytesOnceAndHashesThem) {
  attachgate::testing::TempDir dir;
  auto a = FileBackend::at(dir / "a");
  auto b = FileBackend::at(dir / "b");
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string id(32, 'c'), bytes(3 << 20, 'x');
  auto sink = (*a)->create(id);
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->write(bytes.data(), bytes.size()).ok());
  ASSERT_TRUE((*sink)->finish().ok());

  auto first = copy_object(**a, **b, id);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->outcome, BlobCopyOutcome::copied);
  EXPECT_EQ(first->bytes, bytes.size());
  auto again = copy_object(**a, **b, id);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, BlobCopyOutcome::already_there);
  auto none = copy_object(**a, **b, std::string(32, 'd'));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->outcome, BlobCopyOutcome::missing_in_source);

  Sha256 h;
  h.update(bytes.data(), bytes.size());
  const std::string want = h.final_hex();
  EXPECT_EQ(object_sha256(**a, id).value(), std::optional<std::string>(want));
  EXPECT_EQ(object_sha256(**b, id).value(), std::optional<std::string>(want));
  EXPECT_EQ(object_sha256(**b, std::string(32, 'd')).value(), std::nullopt);
}

}  // namespace
}  // namespace attachgate::store
