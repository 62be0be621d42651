// store/aes_gcm.h - AES-256-GCM through OpenSSL, one context reused per message.
//
// Blob chunks (format v2, see blob_store.cc) are sealed with AES-256-GCM:
// OpenSSL's AES-NI/VAES code runs about 3x faster than libsodium's
// secretstream on the machines we measured. One AesGcm holds one key's
// schedule and is re-initialised with a fresh nonce for every chunk; the
// caller must never use a nonce twice under one key. Every OpenSSL failure
// is an Error; a failed open() never leaves plaintext in its output.
#pragma once

#include <cstddef>

#include "util/result.h"

struct evp_cipher_ctx_st;

namespace attachgate::store {

class AesGcm {
 public:
  static constexpr std::size_t kKeyBytes = 32;
  static constexpr std::size_t kNonceBytes = 12;
  static constexpr std::size_t kTagBytes = 16;
  enum class Mode { seal, open };

  // Copies the key into OpenSSL's schedule (cleansed when freed); the caller
  // zeroes its own copy.
  static Result<AesGcm> create(Mode mode, const unsigned char* key);
  AesGcm(AesGcm&&) noexcept;
  AesGcm& operator=(AesGcm&&) noexcept;
  ~AesGcm();

  // in and out may be the same buffer (not otherwise overlapping).
  Status seal(const unsigned char* nonce, const unsigned char* aad, std::size_t aad_size,
              const unsigned char* in, std::size_t size, unsigned char* out, unsigned char* tag);
  // On failure (a wrong tag: tampered or damaged) out's size bytes are zeroed.
  Status open(const unsigned char* nonce, const unsigned char* aad, std::size_t aad_size,
              const unsigned char* in, std::size_t size, unsigned char* out,
              const unsigned char* tag);

 private:
  AesGcm(evp_cipher_ctx_st* ctx, Mode mode) : ctx_(ctx), mode_(mode) {}
  Status start(const unsigned char* nonce, const unsigned char* aad, std::size_t aad_size);
  Status update(const unsigned char* in, std::size_t size, unsigned char* out);

  evp_cipher_ctx_st* ctx_ = nullptr;
  Mode mode_ = Mode::seal;
};

}  // namespace attachgate::store
