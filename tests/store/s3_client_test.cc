// Tests store/s3_client.cc's pure helpers: SigV4 escaping, reading S3's XML
// answers, and its time stamps. Requests themselves are tested against
// s3rver behind a SigV4-checking front (tests/e2e/test_s3_blobs.py).
#include "store/s3_client.h"

#include <gtest/gtest.h>

namespace attachgate::store {
namespace {

TEST(S3Client, EscapesAllButUnreserved) {
  EXPECT_EQ(s3_escape("aZ09-_.~"), "aZ09-_.~");
  EXPECT_EQ(s3_escape("a/b c+d=e&"), "a%2Fb%20c%2Bd%3De%26");
  EXPECT_EQ(s3_escape("\xff"), "%FF");
}

TEST(S3Client, ReadsValuesOutOfXmlWithEntities) {
  const std::string xml =
      "<R><Contents><Key>p/a</Key></Contents><Contents><Key>p/&lt;b&amp;&quot;</Key></Contents>"
      "<IsTruncated>false</IsTruncated><Key>unclosed";
  EXPECT_EQ(xml_values(xml, "Key"), (std::vector<std::string>{"p/a", "p/<b&\""}));
  EXPECT_EQ(xml_values(xml, "Contents").size(), 2u);
  EXPECT_TRUE(xml_values(xml, "UploadId").empty());
}

TEST(S3Client, ReadsS3Times) {
  EXPECT_EQ(s3_time("1970-01-02T00:00:01.000Z"), 86401);
  EXPECT_EQ(s3_time("2026-12-06T05:30:12Z"), 1796535012);
  EXPECT_EQ(s3_time("yesterday"), 0);
}

}  // namespace
}  // namespace attachgate::store
