// Tests store/s3_credentials.cc: both file forms, the environment, and
// refusals (a readable file, a file that is neither form, no credentials).
#include "store/s3_credentials.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/support/temp_dir.h"

namespace attachgate::store {
namespace {

TEST(S3Credentials, TwoLinesOrNamedValues) {
  auto lines = parse_s3_credentials("AKID\nsecret/with+chars\n", "f");
  ASSERT_TRUE(lines.ok()) << lines.error().message;
  EXPECT_EQ(lines->access_key, "AKID");
  EXPECT_EQ(lines->secret_key, "secret/with+chars");
  auto named = parse_s3_credentials(
      "[default]\n# comment\naws_secret_access_key = S\naws_access_key_id=K\n", "f");
  ASSERT_TRUE(named.ok()) << named.error().message;
  EXPECT_EQ(named->access_key, "K");
  EXPECT_EQ(named->secret_key, "S");
}

TEST(S3Credentials, BadFilesSayWhatToWrite) {
  for (const char* text : {"", "only-one-line\n", "a\nb\nc\n", "aws_access_key_id = K\n",
                           "aws_access_key_id = K\naws_secret_access_key = \n"}) {
    auto c = parse_s3_credentials(text, "/etc/ag/s3");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.error().message.find("/etc/ag/s3: "), std::string::npos) << c.error().message;
  }
}

TEST(S3Credentials, FromTheEnvironmentOrAPrivateFile) {
  ::setenv("AWS_ACCESS_KEY_ID", "ENVKEY", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "ENVSECRET", 1);
  auto env = load_s3_credentials("");
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(env->access_key, "ENVKEY");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  auto none = load_s3_credentials("");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
  ::unsetenv("AWS_ACCESS_KEY_ID");

  testing::TempDir temp;
  const std::string dir = temp.path();
  const std::string path = dir + "/credentials";
  std::ofstream(path) << "FILEKEY\nFILESECRET\n";
  ::chmod(path.c_str(), 0600);
  auto file = load_s3_credentials(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->secret_key, "FILESECRET");
  ::chmod(path.c_str(), 0640);
  auto readable = load_s3_credentials(path);
  ASSERT_FALSE(readable.ok());
  EXPECT_NE(readable.error().message.find("chmod 0600"), std::string::npos);
  auto missing = load_s3_credentials(dir + "/nope");
  ASSERT_FALSE(missing.ok());
}

}  // namespace
}  // namespace attachgate::store
