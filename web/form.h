// web/form.h - application/x-www-form-urlencoded request bodies.
//
// Form bodies come from anyone who can reach the server. parse_form() bounds
// the field count and each name and value, rejects bad percent escapes and
// invalid UTF-8, and returns errors whose message can be shown on a 400 page
// as it is. The caller bounds the body's total size before parsing.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.h"

namespace attachgate::web {

inline constexpr std::size_t kMaxFormFields = 32;
inline constexpr std::size_t kMaxFormNameBytes = 64;
inline constexpr std::size_t kMaxFormValueBytes = 1024;

// "%41" -> "A" (either hex case), and '+' -> ' ' if plus_is_space.
// nullopt for a '%' not followed by two hex digits. The result is raw bytes:
// it may hold NUL or invalid UTF-8.
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

struct Form {
  std::vector<std::pair<std::string, std::string>> fields;  // in body order
  // The value of the first field with this exact name, or nullptr.
  const std::string* get(std::string_view name) const;
};

// Fields split on '&' (empty pieces skipped), name and value on the first
// '=' (none: the value is empty), '+' is a space. Limits are on decoded
// bytes: kMaxFormFields fields, names up to kMaxFormNameBytes, values up to
// kMaxFormValueBytes. An empty body is an empty form.
Result<Form> parse_form(std::string_view body);

// True for "application/x-www-form-urlencoded" in any case, with or without
// parameters ("; charset=UTF-8").
bool is_form_content_type(std::string_view content_type);

}  // namespace attachgate::web
