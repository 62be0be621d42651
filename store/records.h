// store/records.h - the catalog's rows as plain structs.
//
// These are the nouns of DESIGN.md: message, file, link, event. Text in them
// (sender, subject, filename) came from mail and is untrusted: whoever shows
// it escapes it for its medium. A link never carries its token, only the
// token's keyed hash.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/blob_store.h"

namespace attachgate::store {

enum class EventKind {
  offloaded, delivered, deferred, bounced, opened, viewed, downloaded,
  denied, expired, revoked, purged, extended,
  queued,  // a recipient copy reached the MTA (detail: its queue id)
  resent,  // a recipient was sent a fresh link
};
std::string_view to_string(EventKind kind);
std::optional<EventKind> event_kind_from(std::string_view text);

// The names below are what the catalog stores (each column's CHECK lists
// the same) and what reports print; a stored name that is not one of them
// is a broken invariant, refused where the catalog reads the row.

// Whether a file's blob is on disk: missing when reconciliation found it
// gone, purged once no link can download it and purge removed it.
enum class FileState { stored, missing, purged };
std::string_view to_string(FileState state);  // "stored", "missing", "purged"
std::optional<FileState> file_state_from(std::string_view text);
inline constexpr FileState kFileStates[] = {FileState::stored, FileState::missing,
                                            FileState::purged};

// Whether the sender is mailed when a recipient downloads: never, for the
// first completed download (of each recipient's own link, or of a shared
// link), or for every one. The policy's download_notice chooses it per
// message (config::DownloadNotice, which the milter maps to this one:
// config/ and store/ include nothing of each other).
enum class DownloadNotice { never, first, every };
std::string_view to_string(DownloadNotice notice);  // "never", "first", "every"
std::optional<DownloadNotice> download_notice_from(std::string_view text);
inline constexpr DownloadNotice kDownloadNotices[] = {DownloadNotice::never, DownloadNotice::first,
                                                      DownloadNotice::every};

// How a message came to the catalog: offloaded by the milter from mail, or
// uploaded through the API (whose key's label is then its sender; only the
// outcome tells it from a mail whose sender happens to be "api:..."). The
// messages.outcome column has no CHECK: the catalog writes nothing else.
enum class MessageOutcome { offloaded, uploaded };
std::string_view to_string(MessageOutcome outcome);  // "offloaded", "uploaded"
std::optional<MessageOutcome> message_outcome_from(std::string_view text);
inline constexpr MessageOutcome kMessageOutcomes[] = {MessageOutcome::offloaded,
                                                      MessageOutcome::uploaded};

struct MessageRecord {
  std::int64_t id = 0;
  std::string public_id, queue_id, sender, subject, auth_user, client_addr;
  MessageOutcome outcome = MessageOutcome::offloaded;
  std::int64_t created_at = 0;
  DownloadNotice download_notice = DownloadNotice::never;
};

struct FileRecord {
  std::int64_t id = 0;
  std::string public_id;
  std::int64_t message_id = 0;
  std::string filename, content_type;
  std::uint64_t size = 0;
  std::string sha256, blob_id;
  FileState state = FileState::stored;
  std::int64_t created_at = 0;
};

struct LinkRecord {
  std::int64_t id = 0, message_id = 0;
  std::optional<std::string> recipient;  // none: the message's link for all recipients
  std::string pixel_id;
  std::int64_t expires_at = 0;
  int max_downloads = 1;
  std::optional<std::string> code_hash;
  bool track_opens = true;
  int failed_codes = 0;
  std::int64_t locked_until = 0;
  std::optional<std::int64_t> revoked_at;
  std::int64_t created_at = 0;
  std::string queue_id;  // a recipient copy's own queue id in the MTA, once injected
};

// Why purge may remove a file (PurgeCandidate): every link to it is
// revoked, or expired, or used up for it, or it has no link at all. The
// names are the `purged` event's detail and what `attachgate purge` prints.
enum class PurgeReason { expired, revoked, used_up, no_link };
std::string_view to_string(PurgeReason reason);  // "expired", "revoked", "used up", "no link"
std::optional<PurgeReason> purge_reason_from(std::string_view text);
inline constexpr PurgeReason kPurgeReasons[] = {PurgeReason::expired, PurgeReason::revoked,
                                                PurgeReason::used_up, PurgeReason::no_link};

struct LinkFile {
  FileRecord file;
  int downloads = 0;
};

struct EventRecord {
  std::int64_t id = 0;
  std::optional<std::int64_t> message_id, file_id, link_id;
  EventKind kind = EventKind::offloaded;
  std::int64_t at = 0;
  std::string recipient, remote_addr, user_agent, detail;
};

enum class LinkState { active, expired, revoked, used_up };
std::string_view to_string(LinkState state);
// Revoked beats expired beats used up: the 410 page names the first that holds.
LinkState link_state(const LinkRecord& link, const std::vector<int>& downloads, std::int64_t now);

// ---- what callers hand in ---------------------------------------------------

struct NewMessage {
  std::string queue_id, sender, subject, auth_user, client_addr;
  std::vector<std::string> recipients;
  MessageOutcome outcome = MessageOutcome::offloaded;
  // The Message-ID header: a retry of a message the MTA tempfailed after
  // its recipient copies were released carries the same one (copy_queued).
  std::string header_message_id = {};
};

// What an outbox row is: written by the milter, the web server and the
// webhook feed, read by the notifier. Stored as the names below (the
// outbox table's CHECK lists the same). A recipient copy is a whole mail
// kept as a blob, injected through the MTA for one recipient. A fresh link
// is the mail that carries a new link to one recipient after "send again"
// (resend_recipient_link): rendered by the notify role, injected the same way.
enum class OutboxKind { receipt, download_notice, webhook, recipient_copy, fresh_link };
// "receipt", "download notice", "webhook", "recipient copy", "fresh link"
std::string_view to_string(OutboxKind kind);
std::optional<OutboxKind> outbox_kind_from(std::string_view text);
inline constexpr OutboxKind kOutboxKinds[] = {OutboxKind::receipt, OutboxKind::download_notice,
                                              OutboxKind::webhook, OutboxKind::recipient_copy,
                                              OutboxKind::fresh_link};

// Something to send later: a receipt, a download notice, a webhook. The
// payload is what the sender needs that the catalog does not hold (a
// receipt's access code and status token; a webhook's JSON body; a fresh
// link's token, and nothing else). The
// catalog seals it (see sealer.h): it never reaches the disk in clear.
struct NewOutboxItem {
  OutboxKind kind = OutboxKind::receipt;
  std::optional<std::int64_t> message_id;
  std::string target;  // a mail address or a URL
  std::string payload;
  std::int64_t now = 0;
  // Not sent until release_outbox(): a receipt waits until the milter knows
  // the MTA took the rewritten mail.
  bool held = false;
  // A recipient copy: the blob holding the whole mail, and which of the
  // offload's links (index into Offload::links) it carries.
  std::string blob_id = {};
  std::optional<std::size_t> link_index = {};
};

struct OutboxItem {
  std::int64_t id = 0;
  OutboxKind kind = OutboxKind::receipt;
  std::optional<std::int64_t> message_id;
  std::string target, payload;  // payload opened: plaintext
  int attempts = 0;
  std::int64_t created_at = 0;
  // Not empty: the payload could not be opened (sealed under another key, or
  // altered); payload is then empty and no retry can help.
  std::string unreadable;
  std::string blob_id = {};                  // a recipient copy's mail
  std::optional<std::int64_t> link_id = {};  // the link a recipient copy carries
  // An attempt began (outbox_attempt) and never settled: the process died
  // during it, perhaps after the MTA took the mail.
  bool interrupted = false;
};

struct NewFile {
  std::string filename, content_type;
  BlobInfo blob;
};

struct NewLink {
  std::string token_hash;  // TokenHasher::hash(token)
  std::string pixel_id;
  std::optional<std::string> recipient;
  std::int64_t expires_at = 0;
  int max_downloads = 1;
  std::optional<std::string> code_hash;
  bool track_opens = true;
};

struct Offload {
  std::string public_id;  // the message's, made by the caller; empty: made here
  NewMessage message;
  std::vector<NewFile> files;
  std::vector<NewLink> links;  // each link grants every file
  std::vector<NewOutboxItem> outbox;  // for this message (message_id is filled in)
  std::string status_token_hash;          // TokenHasher::hash(status token); empty: no page
  DownloadNotice download_notice = DownloadNotice::never;
  std::int64_t now = 0;
};

// One download claim: a file, or (all) every file of the link that has
// downloads left, to be served as one zip.
struct NewDownload {
  std::int64_t link_id = 0;
  std::vector<std::int64_t> file_ids;
  bool all = false;
  std::string ticket_hash;  // TokenHasher::hash(ticket)
  std::int64_t now = 0, resume_until = 0;
  std::string remote_addr, user_agent;
};

// Wrong access codes: every `per_pause` failures pause the link for
// `pause_seconds`; `lock_after` failures lock it for good.
struct CodeLimits {
  int per_pause = 5;
  std::int64_t pause_seconds = 15 * 60;
  int lock_after = 20;
};
inline constexpr std::int64_t kLockedForGood = INT64_MAX;
inline constexpr std::int64_t kOutboxHeld = INT64_MAX;  // next_attempt_at of a held row
// How long a notifier on a shared (PostgreSQL) catalog holds the rows
// due_outbox handed it before another node may take them.
inline constexpr std::int64_t kOutboxClaimSeconds = 300;
// last_error of a row whose attempt began and has not settled (outbox_attempt).
inline constexpr char kAttemptUnsettled[] = "attempt cut off";

struct OffloadIds {
  std::int64_t message_id = 0;
  std::string message_public_id;
  std::vector<std::string> file_public_ids;
  std::vector<std::int64_t> link_ids;
};

// A claimed download. The ticket (never stored, only its keyed hash) lets
// the browser that claimed it fetch the bytes, and resume them with Range,
// until resume_until; a complete transfer closes it.
struct DownloadRecord {
  std::int64_t id = 0, link_id = 0;
  std::optional<std::string> recipient;  // the link's (none: shared by all recipients)
  bool is_zip = false;
  std::int64_t claimed_at = 0, resume_until = 0;
  std::optional<std::int64_t> completed_at;
  std::vector<FileRecord> files;  // one, or the files a zip claimed
};

// ---- what reports read ------------------------------------------------------

struct MessageSummary {
  MessageRecord message;
  int recipients = 0, files = 0;
  std::uint64_t bytes = 0;
};

struct MessageDetail {
  MessageRecord message;
  std::vector<std::string> recipients;
  std::vector<FileRecord> files;
  std::vector<LinkRecord> links;
  std::vector<EventRecord> events;
  // downloads[i][j]: downloads of files[j] through links[i]
  std::vector<std::vector<int>> downloads;
};

}  // namespace attachgate::store
