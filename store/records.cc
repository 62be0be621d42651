// store/records.cc - the names of the records' enums, as stored and as logged.
#include "store/records.h"

#include <array>

namespace attachgate::store {
namespace {
constexpr std::array<std::pair<EventKind, std::string_view>, 14> kNames{{
    {EventKind::offloaded, "offloaded"}, {EventKind::delivered, "delivered"},
    {EventKind::deferred, "deferred"},   {EventKind::bounced, "bounced"},
    {EventKind::opened, "opened"},       {EventKind::viewed, "viewed"},
    {EventKind::downloaded, "downloaded"}, {EventKind::denied, "denied"},
    {EventKind::expired, "expired"},     {EventKind::revoked, "revoked"},
    {EventKind::purged, "purged"},       {EventKind::extended, "extended"},
    {EventKind::queued, "queued"},       {EventKind::resent, "resent"},
}};

// The enum value whose name is text, trying each of all (the kXs array
// beside the enum in records.h): to_string is the one list of names.
template <class E, std::size_t N>
std::optional<E> named(const E (&all)[N], std::string_view text) {
  for (E e : all)
    if (to_string(e) == text) return e;
  return std::nullopt;
}

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

std::string_view to_string(OutboxKind kind) {
  switch (kind) {
    case OutboxKind::receipt: return "receipt";
    case OutboxKind::download_notice: return "download notice";
    case OutboxKind::webhook: return "webhook";
    case OutboxKind::recipient_copy: return "recipient copy";
    case OutboxKind::fresh_link: return "fresh link";
  }
  panic("unknown OutboxKind");
}

std::optional<OutboxKind> outbox_kind_from(std::string_view text) {
  return named(kOutboxKinds, text);
}

std::string_view to_string(FileState state) {
  switch (state) {
    case FileState::stored: return "stored";
    case FileState::missing: return "missing";
    case FileState::purged: return "purged";
  }
  panic("unknown FileState");
}

std::optional<FileState> file_state_from(std::string_view text) {
  return named(kFileStates, text);
}

std::string_view to_string(PurgeReason reason) {
  switch (reason) {
    case PurgeReason::expired: return "expired";
    case PurgeReason::revoked: return "revoked";
    case PurgeReason::used_up: return "used up";
    case PurgeReason::no_link: return "no link";
  }
  panic("unknown PurgeReason");
}

std::optional<PurgeReason> purge_reason_from(std::string_view text) {
  return named(kPurgeReasons, text);
}

std::string_view to_string(MessageOutcome outcome) {
  switch (outcome) {
    case MessageOutcome::offloaded: return "offloaded";
    case MessageOutcome::uploaded: return "uploaded";
  }
  panic("unknown MessageOutcome");
}

std::optional<MessageOutcome> message_outcome_from(std::string_view text) {
  return named(kMessageOutcomes, text);
}

std::string_view to_string(DownloadNotice notice) {
  switch (notice) {
    case DownloadNotice::never: return "never";
    case DownloadNotice::first: return "first";
    case DownloadNotice::every: return "every";
  }
  panic("unknown DownloadNotice");
}

std::optional<DownloadNotice> download_notice_from(std::string_view text) {
  return named(kDownloadNotices, text);
}

std::string_view to_string(LinkState state) {
  switch (state) {
    case LinkState::active: return "active";
    case LinkState::expired: return "expired";
    case LinkState::revoked: return "revoked";
    case LinkState::used_up: return "used up";
  }
  panic("unknown LinkState");
}

LinkState link_state(const LinkRecord& link, const std::vector<int>& downloads, std::int64_t now) {
  if (link.revoked_at) return LinkState::revoked;
  if (now >= link.expires_at) return LinkState::expired;
  bool any_left = false;
  for (int d : downloads) any_left = any_left || d < link.max_downloads;
  return any_left ? LinkState::active : LinkState::used_up;
}

}  // namespace attachgate::store
