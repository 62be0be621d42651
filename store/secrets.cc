// store/secrets.cc - see secrets.h.
#include "store/secrets.h"

#include "util/text.h"

#include <sodium.h>

namespace attachgate::store {

std::string base64url(const unsigned char* data, std::size_t size) {
  std::string out(sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), data, size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(out.find('\0'));
  return out;
}

std::string new_token() {
  init_sodium();
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  return base64url(raw, sizeof raw);
}

std::string new_public_id(std::size_t bytes) {
  init_sodium();
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(raw.data()), bytes);
  hex.pop_back();
  return hex;
}

bool looks_like_token(std::string_view text) {
  if (text.size() != 43) return false;
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string TokenHasher::hash(std::string_view token) const {
  std::string out(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                     key_.data(), key_.size());
  return out;
}

namespace {

std::string mark_mac(const TokenHasher& hasher, std::string_view message_id,
                     std::string_view recipient, std::int64_t at) {
  // Domain-separated from token hashes, which use the same key; the
  // recipient is lowercased as SMTP treats the domain part.
  std::string input = "notice-mark\n" + std::to_string(at) + "\n" + std::string(message_id) +
                      "\n" + ascii_lower(recipient);
  const std::string mac = hasher.hash(input);
  std::string hex(mac.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(mac.data()),
                 mac.size());
  hex.pop_back();
  return hex;
}

}  // namespace

std::string notice_mark(const TokenHasher& hasher, std::string_view message_id,
                        std::string_view recipient, std::int64_t at) {
  return "t=" + std::to_string(at) + "; m=" + mark_mac(hasher, message_id, recipient, at);
}

bool check_notice_mark(const TokenHasher& hasher, std::string_view mark,
                       std::string_view message_id, std::string_view recipient,
                       std::int64_t now, std::int64_t max_age_seconds) {
  std::string compact;
  for (char c : mark)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') compact += c;
  const std::size_t semi = compact.find(";m=");
  if (compact.rfind("t=", 0) != 0 || semi == std::string::npos || semi > 2 + 19) return false;
  std::int64_t at = 0;
  for (std::size_t i = 2; i < semi; ++i) {
    if (compact[i] < '0' || compact[i] > '9') return false;
    at = at * 10 + (compact[i] - '0');
  }
  if (semi == 2 || at > now + 300 || now - at > max_age_seconds) return false;
  const std::string want = mark_mac(hasher, message_id, recipient, at);
  const std::string got = compact.substr(semi + 3);
  return got.size() == want.size() && sodium_memcmp(got.data(), want.data(), want.size()) == 0;
}

Result<std::string> hash_access_code(std::string_view code) {
  init_sodium();
  char out[crypto_pwhash_STRBYTES];
  // Argon2id with 16 MiB and 4 passes: about the CPU cost of libsodium's
  // "interactive" preset (64 MiB, 2 passes) at a quarter of its memory, so a
  // milter hashing codes for several messages at once stays within its
  // memory budget. The parameters are stored in the hash; verify reads them.
  constexpr unsigned long long kOps = 4;
  constexpr std::size_t kMem = 16u << 20;
  if (crypto_pwhash_str_alg(out, code.data(), code.size(), kOps, kMem, crypto_pwhash_ALG_ARGON2ID13) != 0)
    return make_error("cannot hash access code: out of memory");
  return std::string(out);
}

bool verify_access_code(const std::string& stored_hash, std::string_view code) {
  return crypto_pwhash_str_verify(stored_hash.c_str(), code.data(), code.size()) == 0;
}

}  // namespace attachgate::store
