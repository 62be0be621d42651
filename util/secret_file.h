// util/secret_file.h - opening a file that holds a secret (the master key,
// the catalog's password, the S3 key pair).
//
// Such a file must be a regular file that only its owner may read: one that
// group or others can read is refused, whatever it holds, with the chmod
// that fixes it. The secret itself never appears in an error.
#pragma once

#include <string>
#include <string_view>

#include "util/fs_sync.h"
#include "util/result.h"

namespace attachgate {

enum class Symlinks { follow, refuse };

// what: for the message, e.g. "the master key". Errors name the path.
Result<UniqueFd> open_secret_file(const std::string& path, std::string_view what,
                                  Symlinks symlinks = Symlinks::follow);

}  // namespace attachgate
