// store/aes_gcm.cc - see aes_gcm.h.
#include "store/aes_gcm.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <climits>
#include <utility>

namespace attachgate::store {

Result<AesGcm> AesGcm::create(Mode mode, const unsigned char* key) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return make_error("cannot allocate an AES-GCM context (OpenSSL)");
  AesGcm gcm(ctx, mode);  // frees ctx on every path below
  // GCM's default nonce length is 12 bytes, the one we use.
  if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, nullptr, mode == Mode::seal) != 1 ||
      EVP_CIPHER_CTX_get_iv_length(ctx) != static_cast<int>(kNonceBytes))
    return make_error("cannot set up AES-256-GCM (OpenSSL)");
  return gcm;
}

AesGcm::AesGcm(AesGcm&& o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)), mode_(o.mode_) {}

AesGcm& AesGcm::operator=(AesGcm&& o) noexcept {
  std::swap(ctx_, o.ctx_);
  std::swap(mode_, o.mode_);
  return *this;
}

// EVP_CIPHER_CTX_free cleanses the key schedule.
AesGcm::~AesGcm() { EVP_CIPHER_CTX_free(ctx_); }

Status AesGcm::start(const unsigned char* nonce, const unsigned char* aad, std::size_t aad_size) {
  if (ctx_ == nullptr) panic("AesGcm used after a move");
  // Keeps the key schedule, restarts GCM's counter, hash and tag.
  if (EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, nonce, -1) != 1)
    return make_error("AES-GCM: cannot set the nonce (OpenSSL)");
  if (aad_size > 0) {
    int len = 0;
    if (aad_size > INT_MAX || EVP_CipherUpdate(ctx_, nullptr, &len, aad, static_cast<int>(aad_size)) != 1)
      return make_error("AES-GCM: cannot add the associated data (OpenSSL)");
  }
  return {};
}

Status AesGcm::update(const unsigned char* in, std::size_t size, unsigned char* out) {
  if (size == 0) return {};
  if (size > INT_MAX) panic("AES-GCM message over INT_MAX bytes");
  int len = 0;
  if (EVP_CipherUpdate(ctx_, out, &len, in, static_cast<int>(size)) != 1 ||
      len != static_cast<int>(size))
    return make_error("AES-GCM: update failed (OpenSSL)");
  return {};
}

Status AesGcm::seal(const unsigned char* nonce, const unsigned char* aad, std::size_t aad_size,
                    const unsigned char* in, std::size_t size, unsigned char* out,
                    unsigned char* tag) {
  if (mode_ != Mode::seal) panic("AesGcm::seal on a context made to open");
  if (auto s = start(nonce, aad, aad_size); !s) return s;
  if (auto s = update(in, size, out); !s) return s;
  int len = 0;
  unsigned char none[16];
  if (EVP_EncryptFinal_ex(ctx_, none, &len) != 1 || len != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagBytes), tag) != 1)
    return make_error("AES-GCM: cannot finish sealing (OpenSSL)");
  return {};
}

Status AesGcm::open(const unsigned char* nonce, const unsigned char* aad, std::size_t aad_size,
                    const unsigned char* in, std::size_t size, unsigned char* out,
                    const unsigned char* tag) {
  if (mode_ != Mode::open) panic("AesGcm::open on a context made to seal");
  Status s = start(nonce, aad, aad_size);
  if (s) s = update(in, size, out);
  if (s && EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagBytes),
                               const_cast<unsigned char*>(tag)) != 1)
    s = make_error("AES-GCM: cannot set the tag (OpenSSL)");
  int len = 0;
  unsigned char none[16];
  if (s && (EVP_DecryptFinal_ex(ctx_, none, &len) != 1 || len != 0))
    s = make_error("failed authentication (tampered or damaged)");
  // GCM decrypts before it can check the tag: unauthenticated bytes must not
  // outlive the failure.
  if (!s && size > 0) sodium_memzero(out, size);
  return s;
}

}  // namespace attachgate::store
