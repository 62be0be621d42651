// config/match.h - the text matching policy rules are written in.
//
// Globs know only `*` (any run, including none) and `?` (one character);
// every other character is literal, and matching ignores ASCII case.
// Addresses, filenames and subjects come from mail and are untrusted: the
// matcher never recurses and runs in O(pattern x text) time, so a hostile
// name cannot make it slow, and nothing here allocates more than its input.
#pragma once

#include <string>
#include <string_view>

#include "util/text.h"  // ascii_lower

namespace attachgate::config {

bool glob_match(std::string_view pattern, std::string_view text);

bool contains_nocase(std::string_view haystack, std::string_view needle);

// "<User@Example.COM>" -> "user@example.com": trims blanks and one pair of
// angle brackets, then lowercases. Used for every address comparison.
std::string normalize_address(std::string_view address);
// The lowercased part after the last '@' without a trailing dot; "" if none.
std::string address_domain(std::string_view address);

}  // namespace attachgate::config
