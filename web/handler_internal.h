// web/handler_internal.h - what the handler's route files share; not part
// of the web library's interface.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/records.h"
#include "util/log.h"
#include "web/handler.h"

namespace attachgate::web {

// A link found by its token, with what its pages show.
struct Handler::Link {
  std::string token;
  store::LinkRecord record;
  store::MessageRecord message;
  std::vector<store::LinkFile> files;
  store::LinkState state = store::LinkState::active;
};

// "/d/abc" with prefix "/d/" gives "abc"; nothing for "/d/", "/d/a/b" or
// another prefix. The tail is a lookup value, never a path.
inline std::optional<std::string_view> route_tail(std::string_view path, std::string_view prefix) {
  if (!path.starts_with(prefix)) return std::nullopt;
  std::string_view tail = path.substr(prefix.size());
  if (tail.empty() || tail.find('/') != std::string_view::npos) return std::nullopt;
  return tail;
}

}  // namespace attachgate::web
