// store/sealer.h - small secrets sealed before they reach the disk.
//
// The outbox holds what must outlive a crash until it is sent: a receipt's
// access code and status token. SQLite keeps old page images in its WAL and
// in freed pages, and backups copy both, so clearing a row later is not
// enough: the payload is sealed before it is written. XChaCha20-Poly1305
// (libsodium) with a random 24-byte nonce, under a key derived from the
// master key; the associated data binds a sealed value to its row, so it
// cannot be moved to another row (say, one whose target is another address).
// Format: "AGS1" | nonce (24) | ciphertext | tag (16).
#pragma once

#include <string>
#include <string_view>

#include "store/keys.h"
#include "util/result.h"

namespace attachgate::store {

class Sealer {
 public:
  explicit Sealer(const Key& key) : key_(key) {}
  Sealer(const Sealer&) = default;
  Sealer& operator=(const Sealer&) = default;
  ~Sealer();

  std::string seal(std::string_view plain, std::string_view associated) const;
  // An Error when the value is not sealed, was sealed under another key or
  // with other associated data, or was altered.
  Result<std::string> open(std::string_view sealed, std::string_view associated) const;
  // Starts with the format's magic: written by seal(), not plaintext from an
  // older attachgate.
  static bool looks_sealed(std::string_view value);

 private:
  Key key_;
};

}  // namespace attachgate::store
