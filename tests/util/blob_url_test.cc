// Tests util/blob_url.cc: the [blobs] url forms, and each bad one refused
// with a reason.
#include "util/blob_url.h"

#include <gtest/gtest.h>

namespace attachgate {
namespace {

TEST(BlobUrl, FileIsADirectory) {
  auto url = parse_blob_url("file:./var/blobs");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url->kind, BlobUrl::Kind::file);
  EXPECT_EQ(url->dir, "./var/blobs");
  auto absolute = parse_blob_url("file:///srv/blobs");
  ASSERT_TRUE(absolute.ok());
  EXPECT_EQ(absolute->dir, "/srv/blobs");
}

TEST(BlobUrl, S3HasBucketPrefixEndpointAndRegion) {
  auto url = parse_blob_url("s3://my-bucket/ag/blobs/?endpoint=http://127.0.0.1:9000/&region=eu-west-3");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url->kind, BlobUrl::Kind::s3);
  EXPECT_EQ(url->bucket, "my-bucket");
  EXPECT_EQ(url->prefix, "ag/blobs/");
  EXPECT_EQ(url->endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(url->region, "eu-west-3");

  auto bare = parse_blob_url("s3://bucket?endpoint=https://s3.example.org");
  ASSERT_TRUE(bare.ok()) << bare.error().message;
  EXPECT_EQ(bare->prefix, "");
  EXPECT_EQ(bare->region, "us-east-1");
}

TEST(BlobUrl, BadOnesSayWhy) {
  struct Case {
    const char* url;
    const char* why;
  };
  for (const Case& c : {
           Case{"/var/blobs", "must start with file: or s3://"},
           Case{"file:", "file: needs a directory"},
           Case{"s3://b/p?endpoint=http://h", "bucket must be 3-63"},
           Case{"s3://Bucket/p?endpoint=http://h", "bucket must be 3-63"},
           Case{"s3://bucket/p", "endpoint=http(s)://host[:port] is required"},
           Case{"s3://bucket/p?endpoint=ftp://h", "endpoint must start with http:// or https://"},
           Case{"s3://bucket/p?endpoint=http://h/path", "without a path"},
           Case{"s3://bucket/a%20b?endpoint=http://h", "prefix may hold only"},
           Case{"s3://bucket/a//b?endpoint=http://h", "prefix may hold only"},
           Case{"s3://bucket/p?endpoint=http://h&region=", "region must be like us-east-1"},
           Case{"s3://bucket/p?endpoint=http://h&secret=x", "credentials never go in the url"},
           Case{"s3://bucket/p ?endpoint=http://h", "must not contain spaces"},
       }) {
    auto url = parse_blob_url(c.url);
    ASSERT_FALSE(url.ok()) << c.url;
    EXPECT_NE(url.error().message.find(c.why), std::string::npos)
        << c.url << ": " << url.error().message;
    EXPECT_NE(url.error().message.find("write e.g."), std::string::npos) << c.url;
  }
}

}  // namespace
}  // namespace attachgate
