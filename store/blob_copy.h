// store/blob_copy.h - copies stored objects from one blob back end to
// another as they are, and hashes them to check the copy.
//
// Objects are ciphertext (blob_backend.h): they are copied byte for byte,
// never opened or sealed again, so the master key is not needed and the
// copy is exactly what the source holds. An object the destination has
// already is not copied again (back ends make an object visible only once
// whole, so one that exists is complete).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "store/blob_backend.h"
#include "util/result.h"

namespace attachgate::store {

enum class BlobCopyOutcome { copied, already_there, missing_in_source };

struct BlobCopied {
  BlobCopyOutcome outcome = BlobCopyOutcome::copied;
  std::uint64_t bytes = 0;  // the object's size (0 if missing in the source)
};

Result<BlobCopied> copy_object(const BlobBackend& from, const BlobBackend& to,
                               const std::string& id);

// The SHA-256 (hex) of the object's bytes as stored; none if there is no
// such object.
Result<std::optional<std::string>> object_sha256(const BlobBackend& backend, const std::string& id);

}  // namespace attachgate::store
