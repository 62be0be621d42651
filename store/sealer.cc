// store/sealer.cc - see sealer.h.
#include "store/sealer.h"

#include <sodium.h>

namespace attachgate::store {
namespace {

constexpr std::string_view kMagic = "AGS1";
constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

Sealer::~Sealer() { sodium_memzero(key_.data(), key_.size()); }

bool Sealer::looks_sealed(std::string_view value) {
  return value.size() >= kMagic.size() + kNonce + kTag && value.substr(0, kMagic.size()) == kMagic;
}

std::string Sealer::seal(std::string_view plain, std::string_view associated) const {
  init_sodium();
  std::string out(kMagic.size() + kNonce + plain.size() + kTag, '\0');
  out.replace(0, kMagic.size(), kMagic);
  auto* nonce = reinterpret_cast<unsigned char*>(out.data() + kMagic.size());
  randombytes_buf(nonce, kNonce);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + kNonce, &written, bytes(plain), plain.size(),
                                             bytes(associated), associated.size(), nullptr,
                                             nonce, key_.data());
  if (written != plain.size() + kTag) panic("XChaCha20-Poly1305 wrote an unexpected length");
  return out;
}

Result<std::string> Sealer::open(std::string_view sealed, std::string_view associated) const {
  if (!looks_sealed(sealed)) return make_error("not a sealed value");
  const auto* nonce = bytes(sealed) + kMagic.size();
  const std::size_t body = sealed.size() - kMagic.size() - kNonce;
  std::string out(body - kTag, '\0');
  unsigned long long got = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out.data()), &got, nullptr, nonce + kNonce, body,
          bytes(associated), associated.size(), nonce, key_.data()) != 0)
    return make_error("failed authentication (sealed under another key, or altered)");
  out.resize(got);
  return out;
}

}  // namespace attachgate::store
