// store/catalog.h - the metadata database (SQLite, WAL).
//
// One Catalog is one connection; its methods are safe to call from several
// threads (they serialise on the connection). Several processes may open the
// same file: SQLite's locking and busy_timeout arbitrate. Writes that belong
// together (an offload) commit in one transaction or not at all. The schema
// is versioned with PRAGMA user_version and migrated forward on open; a file
// from a newer attachgate is refused rather than guessed at.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/keys.h"
#include "store/records.h"
#include "store/sealer.h"
#include "store/sql.h"
#include "store/watch_records.h"
#include "store/webhook_records.h"
#include "util/result.h"

namespace attachgate::store {

enum class Claim { won, used_up, unavailable };

struct ClaimResult {
  Claim outcome = Claim::unavailable;
  std::int64_t download_id = 0;        // when won
  std::vector<std::int64_t> file_ids;  // when won: what the download covers
};

// A file no link can still download, found by purge.
struct PurgeCandidate {
  std::int64_t file_id = 0;
  std::string blob_id;
  std::int64_t message_id = 0;
  std::uint64_t size = 0;
  PurgeReason reason = PurgeReason::expired;
};

struct ForgetReport {
  int messages = 0, events = 0;
};

// An access-code attempt, counted before the code is checked. admitted:
// the link was neither paused nor locked, and this attempt now counts as a
// failure (failed includes it) until refund_code_attempt says it was right.
// Not admitted: nothing was counted; locked_until says until when.
struct CodeAttempt {
  bool admitted = false;
  int failed = 0;                 // attempts counted as wrong so far, this one included
  std::int64_t locked_until = 0;  // kLockedForGood once the link is locked
  bool tripped = false;           // this attempt set the pause or the lock
};

// Taking a ticket's one transfer (begin_transfer).
enum class TransferStart {
  started,   // this transfer holds the ticket now
  busy,      // another transfer holds it (its lease has not run out)
  finished,  // the download completed already
  over,      // the resume time has ended
  unknown,   // no such download
};

// What `revoke` or `extend` changed: how many links, and (extend) the
// latest new expiry among them.
struct LinkChange { int links = 0; std::int64_t expires_at = 0; };

// One UTC day of `attachgate stats`; day is the Unix time of its 00:00.
struct DayStats {
  std::int64_t day = 0;
  int messages = 0, files = 0;
  std::uint64_t bytes = 0;
  int downloads = 0;  // completed transfers; a zip of several files counts once
};

// Files whose blobs are on disk now (state 'stored': not purged, not missing).
struct StoredTotals {
  std::int64_t files = 0;
  std::uint64_t bytes = 0;
};

// "Send again": one recipient's link re-issued (resend_recipient_link).
// The caller makes the new token; the catalog keeps only its keyed hash on
// the link, and the token itself, sealed, in the fresh link's outbox row
// until the notify role has sent it.
struct ResendRequest {
  std::string token, token_hash;  // the new link's token and TokenHasher::hash of it
  std::string pixel_id;
  std::int64_t now = 0;
  std::string by;               // for the trail: "the sender", "admin root"
  int max_links = 0;            // the recipient's links, old ones included; 0: no limit
  std::int64_t latest_expiry = 0;  // the new link expires by then; 0: no bound
};

enum class ResendOutcome {
  sent,        // a new link, its outbox row and the trail, in one transaction
  no_link,     // the message has no link of that recipient's own
  no_files,    // none of the link's files is still stored (purged or missing)
  too_many,    // the recipient has had max_links links already
  too_late,    // now is past latest_expiry
};

struct ResendResult {
  ResendOutcome outcome = ResendOutcome::no_link;
  std::int64_t link_id = 0, expires_at = 0;  // the new link's, when sent
  int links = 0;                             // the recipient's links now, old ones included
};

// A completed download of one file through one link (a zip gives one per
// file it carried); for the status page's per-recipient rows.
struct CompletedDownload {
  std::int64_t link_id = 0, file_id = 0, at = 0;
};

class Catalog {
 public:
  // Deleted content is overwritten (PRAGMA secure_delete), not just freed.
  // location: a SQLite file (a path, or "sqlite:PATH") or a PostgreSQL URL
  // (sql.h), with its password given apart.
  static Result<Catalog> open(const std::string& location,
                              const std::optional<std::string>& password = std::nullopt);
  Engine engine() const { return db_.engine(); }
  Catalog(Catalog&& o) noexcept
      : db_(std::move(o.db_)), reader_(std::move(o.reader_)), outbox_sealer_(o.outbox_sealer_) {}

  int schema_version();
  static int latest_schema_version();

  // Writes.
  Result<OffloadIds> record_offload(const Offload& offload);
  // Page views and tracking-pixel opens (`viewed`, `opened`) arrive with
  // every page load and only record interest, so they commit without waiting
  // for the disk (synchronous = NORMAL, WAL): a power failure may lose the
  // last few; the next durable commit carries them to disk. Every other
  // write, other events included, commits under synchronous = FULL.
  Result<std::int64_t> add_event(const EventRecord& event);
  // The connection's PRAGMA synchronous (2 = FULL); for tests.
  int synchronous_level();
  // The download claim: for each file one guarded UPDATE, and the ticket,
  // in one transaction. `won` for exactly one of any number of racing
  // callers when one download is left. A single-file claim wins or loses
  // whole; an `all` claim takes every file with downloads left and wins if
  // there was at least one.
  Result<ClaimResult> claim_download(const NewDownload& claim);
  // Closes a download's ticket; false if it was closed already.
  Result<bool> complete_download(std::int64_t download_id, std::int64_t now);

  // Gates that hold under any number of racing threads and processes, each
  // decided by one guarded statement (catalog_gates.cc).
  //
  // A ticket carries one transfer at a time: begin_transfer takes it for
  // `owner` (a fresh random name per transfer) until now + lease_seconds,
  // unless another transfer holds an unexpired lease. The holder renews
  // while it sends (false: the lease is no longer its own), and ends the
  // transfer once, closing the ticket if it completed (complete_at); end
  // returns false if the lease had passed to another transfer, which then
  // changes nothing. A lease a crashed process left simply runs out.
  Result<TransferStart> begin_transfer(std::int64_t download_id, const std::string& owner,
                                       std::int64_t now, std::int64_t lease_seconds);
  Result<bool> renew_transfer(std::int64_t download_id, const std::string& owner,
                              std::int64_t lease_until);
  Result<bool> end_transfer(std::int64_t download_id, const std::string& owner,
                            std::optional<std::int64_t> complete_at);
  // An access code is counted before the slow check: begin_code_attempt
  // admits it only while the link is neither paused nor locked, counts it
  // as wrong and applies the pause (every per_pause) or lock (lock_after)
  // that count reaches. A code that proves right is taken back with
  // refund_code_attempt, which also lifts a pause or lock it tripped
  // itself. So racing guesses can never get more than per_pause checks
  // before the pause. A wrong guess racing a right one may pause the link
  // one failure early: the gate errs on the closed side.
  Result<CodeAttempt> begin_code_attempt(std::int64_t link_id, std::int64_t now,
                                         const CodeLimits& limits);
  Status refund_code_attempt(std::int64_t link_id, const CodeAttempt& attempt);
  // Deletes a message and everything hanging off it (an offload whose mail
  // never left); returns the blob ids the caller must now remove (its files'
  // and its recipient copies').
  Result<std::vector<std::string>> remove_message(std::int64_t message_id);
  // true if a stored row was marked now (false: already marked, or no row).
  Result<bool> mark_blob_missing(const std::string& blob_id);

  // Purging (see catalog_purge.cc). mark_purged re-checks under the write
  // lock and records a `purged` event; false: no longer purgeable.
  Result<std::vector<PurgeCandidate>> purgeable_files(std::int64_t now);
  Result<bool> mark_purged(const PurgeCandidate& file, std::int64_t now);
  Result<ForgetReport> forget_before(std::int64_t cutoff);

  // Reads.
  Result<std::optional<LinkRecord>> find_link_by_token_hash(const std::string& token_hash);
  Result<std::optional<LinkRecord>> find_link_by_pixel(const std::string& pixel_id);
  Result<std::optional<MessageRecord>> find_message(std::int64_t id);
  Result<std::optional<DownloadRecord>> find_download(const std::string& ticket_hash);
  Result<std::vector<LinkFile>> link_files(std::int64_t link_id);
  Result<std::optional<FileRecord>> find_file(const std::string& public_id);
  Result<std::vector<MessageSummary>> list_messages(int limit);
  // By public id or Postfix queue id.
  Result<std::optional<MessageDetail>> show_message(const std::string& id);
  Result<std::vector<std::string>> blob_ids_in_use();
  Result<std::int64_t> count(const char* table);  // for tests and stats

  // The master key's check value (keys.h), or none before the first start
  // with a key. adopt_key_check records value unless one is recorded already,
  // and returns the one recorded (a racing starter's, maybe): the caller
  // compares it with its own.
  Result<std::optional<std::string>> key_check();
  Result<std::string> adopt_key_check(const std::string& value, std::int64_t now);

  // Outbox and the sender's status page (catalog_outbox.cc). An outbox row
  // is a receipt, download notice or webhook waiting to go out; a sender
  // takes due rows, and marks each sent (its payload is then cleared: a
  // receipt's payload holds the access code) or failed for good. Payloads
  // are sealed with the key given here (KeyRing::outbox_seal_key) and bound
  // to their row; without it the outbox refuses to write or read. Setting
  // it also seals the waiting rows an older attachgate wrote in clear.
  Status set_outbox_key(const Key& key);
  Result<std::int64_t> enqueue(const NewOutboxItem& item);
  // webhooks: only webhook rows (true), only mail (false), or both.
  // Makes a message's held rows due now (the milter, once the MTA has the
  // rewritten mail); rows of a message that never got that far stay held.
  Status release_outbox(std::int64_t message_id, std::int64_t now);
  Result<std::vector<OutboxItem>> due_outbox(std::int64_t now, int limit,
                                             std::optional<bool> webhooks = std::nullopt);
  Status outbox_sent(std::int64_t id, std::int64_t now);
  Status outbox_retry(std::int64_t id, std::int64_t next_attempt_at, const std::string& error);
  Status outbox_give_up(std::int64_t id, std::int64_t now, const std::string& error);
  // Marks the start of an attempt to send a row: until it settles (sent,
  // retried, given up), a later due_outbox reads it as interrupted.
  Status outbox_attempt(std::int64_t id);
  // A recipient copy or fresh link reached the MTA as queue_id: the row is
  // sent (its payload cleared), the link learns its queue id (for the
  // delivery watcher) and a `queued` event is recorded, together. The
  // caller then removes a copy's blob. A row marked already changes nothing.
  Status copy_queued(const OutboxItem& item, const std::string& queue_id, std::int64_t now);
  Result<std::int64_t> outbox_depth(OutboxKind kind);  // waiting, not given up
  Result<std::optional<MessageRecord>> find_message_by_status_token(const std::string& token_hash);
  // For a download notice: how many completed downloads the message has,
  // or (link_id given) the downloads through that one link.
  Result<int> completed_downloads(std::int64_t message_id,
                                  std::optional<std::int64_t> link_id = std::nullopt);

  // Admin and sender actions (catalog_admin.cc).
  // A message's public id or Postfix queue id to messages.id.
  Result<std::optional<std::int64_t>> message_row_id(const std::string& id);
  // Revokes the message's links not yet revoked, one `revoked` event each
  // ("by <by>"). Revoking again changes and records nothing.
  Result<LinkChange> revoke_message_links(std::int64_t message_id, std::int64_t now,
                                          const std::string& by);
  // Every link not revoked expires at max(expires_at, now) + seconds, one
  // `extended` event each. A revoked link stays revoked and is not touched.
  Result<LinkChange> extend_message_links(std::int64_t message_id, std::int64_t seconds,
                                          std::int64_t now, const std::string& by);
  // The last `days` UTC days up to and including now's, oldest first, each
  // listed even when empty. Only what the catalog still holds is counted:
  // purge forgets messages after event_retention.
  Result<std::vector<DayStats>> stats_by_day(int days, std::int64_t now);
  Result<StoredTotals> stored_totals();

  // ---- Links per recipient: the status page and CLI (catalog_recipients.cc) ----
  // The message's link of its own for `recipient`, matched without regard
  // to case; none when it has none (a shared link, or an internal recipient
  // who got the attachment in the mail). At most one link per address is
  // expected; with several, the newest.
  Result<std::optional<LinkRecord>> recipient_link(std::int64_t message_id,
                                                   const std::string& recipient);
  // Revokes only that recipient's link, with one `revoked` event carrying
  // the recipient ("by <by>"), in one transaction. None: the message has no
  // link for that address; links = 0: it was revoked already (nothing is
  // recorded again).
  Result<std::optional<LinkChange>> revoke_recipient_link(std::int64_t message_id,
                                                          const std::string& recipient,
                                                          std::int64_t now, const std::string& by);
  // "Send again": revokes the recipient's link (if it is not revoked yet)
  // and gives them a new one to the same files still stored, with the same
  // download limit and access code, expiring after the old link's lifetime
  // from now (bounded by latest_expiry); records `revoked` and `resent`
  // events and a fresh link outbox row (due now), all in one transaction.
  Result<ResendResult> resend_recipient_link(std::int64_t message_id, const std::string& recipient,
                                             const ResendRequest& request);
  // Every completed download of the message's files, per link and file,
  // oldest first: a zip counts for each file it carried.
  Result<std::vector<CompletedDownload>> completed_downloads_by_file(std::int64_t message_id);
  // ---- end links per recipient ----

  // Delivery watcher (catalog_watch.cc). A delivery is recorded once per
  // message with its queue id (0: not our mail, or already recorded); a
  // batch and the log position after it commit together.
  Result<std::optional<WatchPosition>> load_watch_position(const std::string& log_path);
  Status save_watch_position(const WatchPosition& position, std::int64_t now);
  Result<int> record_delivery(const DeliveryReport& report);
  Result<int> record_deliveries(const std::vector<DeliveryReport>& reports,
                                const WatchPosition& position, std::int64_t now);

  // Webhook feed (catalog_webhooks.cc): the notify role turns new events
  // into webhook outbox rows, remembering the last event id it covered.
  // start_ sets the cursor at the newest event unless it is set already (so
  // newly configured webhooks do not replay history); stop_ forgets it, for
  // when webhooks are switched off. webhook_events reads up to limit events
  // after the cursor of the kinds webhooks report. enqueue_webhooks inserts
  // the rows, moves the cursor and, if more than max_queue webhook rows are
  // waiting, gives up the oldest, in one transaction; returns how many were
  // given up so.
  Status start_webhook_cursor();
  Status stop_webhook_cursor();
  Result<std::vector<WebhookEvent>> webhook_events(int limit);
  Result<std::int64_t> enqueue_webhooks(const WebhookBatch& batch);

 private:
  Catalog(Db db, Db reader) : db_(std::move(db)), reader_(std::move(reader)) {}
  Status migrate(const std::string& where);
  Result<int> stored_version();
  Result<std::int64_t> add_event_postgres(const EventRecord& event, bool interest);  // under mu_ or in migrate's transaction
  Result<std::optional<MessageRecord>> message_by(Db& db, const std::string& id);
  Result<Claim> claim_one(std::int64_t link_id, std::int64_t file_id, std::int64_t now);

  // Writes go through db_ (under mu_); the reads above through reader_
  // (under read_mu_). In WAL mode a reader never waits for a writer, so a
  // page or /healthz does not queue behind a claim's fsync.
  Db db_;
  std::mutex mu_;
  Db reader_;
  std::mutex read_mu_;
  std::optional<Sealer> outbox_sealer_;
};

}  // namespace attachgate::store
