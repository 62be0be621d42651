// store/secrets.cc - see secrets.h.
#include "store/secrets.h"

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

std::string notice_mark(const TokenHasher& hasher, std::string_view message_id) {
  // Domain-separated from token hashes, which use the same key.
  const std::string mac = hasher.hash("notice-mark\n" + std::string(message_id));
  std::string hex(mac.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(mac.data()),
                 mac.size());
  hex.pop_back();
  return hex;
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
