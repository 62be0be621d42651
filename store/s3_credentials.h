// store/s3_credentials.h - the S3 key pair, from a file or the environment.
//
// Never from the TOML: a config file is often world-readable and kept in
// version control. A credentials file (0600 advised; a group- or
// world-readable one is refused) holds either two lines, access key id then
// secret, or `name = value` lines with aws_access_key_id and
// aws_secret_access_key (as in ~/.aws/credentials, without sections).
// Without a file, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are read.
#pragma once

#include <string>

#include "util/result.h"

namespace attachgate::store {

struct S3Credentials {
  std::string access_key;
  std::string secret_key;
};

Result<S3Credentials> load_s3_credentials(const std::string& file);
// The file's text (for tests and for load_s3_credentials); `where` names it in errors.
Result<S3Credentials> parse_s3_credentials(const std::string& text, const std::string& where);

}  // namespace attachgate::store
