// web/range.cc - see range.h.
//
// Strict where the grammar is strict (no space inside "a-b", digits only),
// lenient only where RFC 9110's list rule asks recipients to be (OWS and
// empty elements around commas), and every number is checked for overflow
// before it is used.
#include "web/range.h"

#include <limits>
#include <optional>

#include "util/text.h"

namespace attachgate::web {
namespace {

// 1*DIGIT that fits in 64 bits, else nullopt.
std::optional<std::uint64_t> parse_number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (kMax - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// The one non-empty element of a range-set, or nullopt if there are none
// or several.
std::optional<std::string_view> single_element(std::string_view set) {
  std::optional<std::string_view> found;
  while (true) {
    std::size_t comma = set.find(',');
    std::string_view element = trim_blanks(set.substr(0, comma));
    if (!element.empty()) {
      if (found) return std::nullopt;
      found = element;
    }
    if (comma == std::string_view::npos) return found;
    set.remove_prefix(comma + 1);
  }
}

RangeRequest with_kind(RangeKind kind) { return RangeRequest{kind, {}}; }

}  // namespace

RangeRequest parse_range(std::string_view header, std::uint64_t size) {
  header = trim_blanks(header);
  if (header.empty()) return with_kind(RangeKind::none);
  constexpr std::string_view kUnit = "bytes=";
  if (header.size() < kUnit.size() || !equals_nocase(header.substr(0, kUnit.size()), kUnit))
    return with_kind(RangeKind::ignored);
  std::optional<std::string_view> spec = single_element(header.substr(kUnit.size()));
  if (!spec) return with_kind(RangeKind::ignored);
  std::size_t dash = spec->find('-');
  if (dash == std::string_view::npos) return with_kind(RangeKind::ignored);
  std::string_view first_text = spec->substr(0, dash);
  std::string_view last_text = spec->substr(dash + 1);

  if (first_text.empty()) {  // suffix-range: the last n bytes
    std::optional<std::uint64_t> n = parse_number(last_text);
    if (!n) return with_kind(RangeKind::ignored);
    if (*n == 0 || size == 0) return with_kind(RangeKind::unsatisfiable);
    return RangeRequest{RangeKind::satisfiable, {*n < size ? size - *n : 0, size - 1}};
  }

  std::optional<std::uint64_t> first = parse_number(first_text);
  if (!first) return with_kind(RangeKind::ignored);
  std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
  if (!last_text.empty()) {
    std::optional<std::uint64_t> parsed = parse_number(last_text);
    if (!parsed || *parsed < *first) return with_kind(RangeKind::ignored);
    last = *parsed;
  }
  if (*first >= size) return with_kind(RangeKind::unsatisfiable);
  return RangeRequest{RangeKind::satisfiable, {*first, last < size ? last : size - 1}};
}

std::string content_range(ByteRange r, std::uint64_t size) {
  return "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" + std::to_string(size);
}

std::string unsatisfied_range(std::uint64_t size) { return "bytes */" + std::to_string(size); }

}  // namespace attachgate::web
