// store/sha256.h - the content hash of a blob, fed in pieces.
//
// OpenSSL's SHA-256 (SHA-NI / AVX2 code paths) runs at about 1.5 GB/s on
// the machines we measured, libsodium's portable one at about 0.3 GB/s,
// and every offloaded byte is hashed once (bench/analysis.md).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

struct evp_md_ctx_st;

namespace attachgate::store {

class Sha256 {
 public:
  Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  ~Sha256();

  void update(const void* data, std::size_t size);
  std::string final_hex();  // lowercase; once

 private:
  evp_md_ctx_st* ctx_ = nullptr;
};

}  // namespace attachgate::store
