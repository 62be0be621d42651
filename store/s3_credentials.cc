// store/s3_credentials.cc - see s3_credentials.h.
#include "store/s3_credentials.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdlib>
#include <sstream>
#include <vector>

#include "util/fs_sync.h"
#include "util/secret_file.h"

namespace attachgate::store {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

bool printable(const std::string& s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  return !s.empty();
}

}  // namespace

Result<S3Credentials> parse_s3_credentials(const std::string& text, const std::string& where) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    line = trim(line);
    if (!line.empty() && line[0] != '#' && line[0] != '[') lines.push_back(line);
  }
  S3Credentials c;
  const bool named = !lines.empty() && lines[0].find('=') != std::string::npos;
  if (named) {
    for (const auto& line : lines) {
      const auto eq = line.find('=');
      if (eq == std::string::npos) return make_error(where + ": a line without '=' among name = value lines");
      const std::string name = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
      if (name == "aws_access_key_id" || name == "access_key") c.access_key = value;
      else if (name == "aws_secret_access_key" || name == "secret_key") c.secret_key = value;
    }
  } else if (lines.size() == 2) {
    c.access_key = lines[0];
    c.secret_key = lines[1];
  }
  if (!printable(c.access_key) || !printable(c.secret_key))
    return make_error(where + ": want two lines (access key id, then secret) or "
                              "aws_access_key_id = ... and aws_secret_access_key = ...");
  return c;
}

Result<S3Credentials> load_s3_credentials(const std::string& file) {
  if (file.empty()) {
    const char* id = std::getenv("AWS_ACCESS_KEY_ID");
    const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
    if (!id || !*id || !secret || !*secret)
      return make_error("[blobs] url is s3:// but no credentials: set AWS_ACCESS_KEY_ID and "
                        "AWS_SECRET_ACCESS_KEY in the environment, or name a file in "
                        "[blobs] credentials_file");
    return S3Credentials{id, secret};
  }
  auto fd = open_secret_file(file, "the S3 key pair");
  if (!fd) return make_error("[blobs] credentials_file: " + fd.error().message);
  std::string text(4096, '\0');
  auto got = read_full(fd->get(), text.data(), text.size());
  if (!got) return got.error();
  if (*got == text.size()) return make_error(file + ": too long for an S3 credentials file");
  text.resize(*got);
  return parse_s3_credentials(text, file);
}

}  // namespace attachgate::store
