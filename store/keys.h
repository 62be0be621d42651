// store/keys.h - the master key and the keys derived from it.
//
// The master key is 32 random bytes. By default it is `<state_dir>/master.key`,
// created 0600 on first start; `master_key_file` may put it elsewhere, or
// name a systemd credential (LoadCredential=), so that a copy of the state
// directory alone (a stolen disk, a backup) does not hold the key to its
// blobs. A key file readable by group or others is refused: a copy of it
// decrypts every blob. Subkeys are derived with crypto_kdf so one key serves
// blob wrapping, token hashing and outbox sealing without reusing a key for
// two jobs. The key check value (an HMAC of a fixed label) lets the catalog
// recognise its key without holding it.
#pragma once

#include <array>
#include <string>

#include "util/result.h"

namespace attachgate::store {

using Key = std::array<unsigned char, 32>;

// Initialises libsodium once; aborts if it cannot (no usable RNG).
void init_sodium();

// Where the master key is read from.
struct KeyLocation {
  std::string path;
  // Only the default file in the state directory is ever created, and only
  // for a catalog that holds no key check yet; a key the admin placed
  // elsewhere, or a credential, must be there.
  bool may_create = false;
};

inline constexpr char kCredentialPrefix[] = "credential:";

// master_key_file as configured: "" is `<state_dir>/master.key`;
// "credential:NAME" is NAME in systemd's $CREDENTIALS_DIRECTORY (passed in:
// null when unset, which is an error that says how to set it up); anything
// else is a file path.
Result<KeyLocation> locate_master_key(const std::string& master_key_file,
                                      const std::string& state_dir,
                                      const char* credentials_directory);

class KeyRing {
 public:
  // Reads the key, creating it (0600) first if it is absent and may be.
  static Result<KeyRing> load(const KeyLocation& where);
  // Loads `<state_dir>/master.key`, creating it (0600) if absent.
  static Result<KeyRing> load_or_create(const std::string& state_dir);

  const Key& blob_wrap_key() const { return blob_wrap_; }
  const Key& token_hash_key() const { return token_hash_; }
  const Key& outbox_seal_key() const { return outbox_seal_; }
  // HMAC-SHA256 under the master key of a fixed label: 32 raw bytes.
  const std::string& check_value() const { return check_; }

 private:
  Key blob_wrap_{};
  Key token_hash_{};
  Key outbox_seal_{};
  std::string check_;
};

}  // namespace attachgate::store
