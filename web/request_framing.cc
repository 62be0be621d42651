// web/request_framing.cc - see request_framing.h.
#include "web/request_framing.h"

#include "util/text.h"

namespace attachgate::web {
namespace {

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The transfer codings of every field in order; empty list elements, which
// the list syntax allows, are dropped.
std::vector<std::string_view> codings(const std::vector<std::string_view>& fields) {
  std::vector<std::string_view> out;
  for (std::string_view field : fields) {
    while (true) {
      const std::size_t comma = field.find(',');
      std::string_view item = trim_ows(field.substr(0, comma));
      if (!item.empty()) out.push_back(item);
      if (comma == std::string_view::npos) break;
      field.remove_prefix(comma + 1);
    }
  }
  return out;
}

}  // namespace

int framing_refusal(const RequestFraming& f) {
  if (f.host_fields > 1 || (f.version >= 11 && f.host_fields == 0)) return 400;
  if (f.transfer_encoding.empty()) return 0;
  // HTTP/1.0 has no chunked coding; a length given twice over is ambiguous.
  if (f.version < 11 || f.content_length_fields > 0) return 400;
  const std::vector<std::string_view> list = codings(f.transfer_encoding);
  if (list.empty() || !equals_nocase(list.back(), "chunked")) return 400;
  for (std::size_t i = 0; i + 1 < list.size(); ++i)
    if (equals_nocase(list[i], "chunked")) return 400;  // chunked only once, and last
  return list.size() == 1 ? 0 : 501;
}

}  // namespace attachgate::web
