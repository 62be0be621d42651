// store/records.cc - event kind names, as stored and as logged.
#include "store/records.h"

#include <array>

namespace attachgate::store {
namespace {
constexpr std::array<std::pair<EventKind, std::string_view>, 11> kNames{{
    {EventKind::offloaded, "offloaded"}, {EventKind::delivered, "delivered"},
    {EventKind::deferred, "deferred"},   {EventKind::bounced, "bounced"},
    {EventKind::opened, "opened"},       {EventKind::viewed, "viewed"},
    {EventKind::downloaded, "downloaded"}, {EventKind::denied, "denied"},
    {EventKind::expired, "expired"},     {EventKind::revoked, "revoked"},
    {EventKind::purged, "purged"},
}};
}  // namespace

std::string_view to_string(EventKind kind) {
  for (const auto& [k, name] : kNames)
    if (k == kind) return name;
  panic("unknown EventKind");
}

std::optional<EventKind> event_kind_from(std::string_view text) {
  for (const auto& [k, name] : kNames)
    if (name == text) return k;
  return std::nullopt;
}

}  // namespace attachgate::store
