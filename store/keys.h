// store/keys.h - the state directory's master key and the keys derived from it.
//
// The master key is 32 random bytes in `<state_dir>/master.key`, created 0600
// on first start. A key file readable by group or others is refused: a copy
// of it decrypts every blob. Subkeys are derived with crypto_kdf so one file
// serves blob wrapping, token hashing and outbox sealing without reusing a
// key for two jobs.
#pragma once

#include <array>
#include <string>

#include "util/result.h"

namespace attachgate::store {

using Key = std::array<unsigned char, 32>;

// Initialises libsodium once; aborts if it cannot (no usable RNG).
void init_sodium();

class KeyRing {
 public:
  // Loads `<state_dir>/master.key`, creating it (0600) if absent.
  static Result<KeyRing> load_or_create(const std::string& state_dir);

  const Key& blob_wrap_key() const { return blob_wrap_; }
  const Key& token_hash_key() const { return token_hash_; }
  const Key& outbox_seal_key() const { return outbox_seal_; }

 private:
  Key blob_wrap_{};
  Key token_hash_{};
  Key outbox_seal_{};
};

}  // namespace attachgate::store
