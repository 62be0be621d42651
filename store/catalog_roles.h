// store/catalog_roles.h - the catalog as each role sees it.
//
// The catalog serves five roles: the milter, the web server, the notifier,
// the delivery watcher and the admin (CLI, purge, start-up checks). Each
// gets an interface of what it uses, built from a few shared parts with one
// home per method, so a component cannot reach what its role does not do,
// and every back end (Catalog on SQLite, catalog.h) implements the same
// contracts, checked by the compiler. The contracts below hold whatever the
// back end: writes that belong together commit together or not at all, and
// the gates hold under any number of racing threads, processes and nodes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/catalog_records.h"
#include "store/engine.h"
#include "store/keys.h"
#include "store/records.h"
#include "store/watch_records.h"
#include "store/webhook_records.h"
#include "util/result.h"

namespace attachgate::store {

// Reads more than one role makes.
class CatalogReads {
 public:
  virtual ~CatalogReads() = default;

  virtual Result<std::optional<MessageRecord>> find_message(std::int64_t id) = 0;
  // By public id or Postfix queue id.
  virtual Result<std::optional<MessageDetail>> show_message(const std::string& id) = 0;
  // A message's public id or Postfix queue id to messages.id.
  virtual Result<std::optional<std::int64_t>> message_row_id(const std::string& id) = 0;
  virtual Result<std::vector<LinkFile>> link_files(std::int64_t link_id) = 0;
  virtual Result<std::optional<FileRecord>> find_file(const std::string& public_id) = 0;
  virtual Result<std::int64_t> count(CatalogTable table) = 0;  // for tests and stats
  // The catalog answers a read, in the same time whatever its size: for
  // health checks (count() reads every row).
  virtual Status ping() = 0;
  virtual Engine engine() const = 0;  // for metrics and messages
  virtual Result<StoredTotals> stored_totals() = 0;
  virtual Result<std::int64_t> outbox_depth(OutboxKind kind) = 0;  // waiting, not given up
};

// A blob found gone from the blob store: by reconciliation (admin), or by
// the web role when a download's object is missing (an object store).
class MissingBlobs {
 public:
  virtual ~MissingBlobs() = default;
  // true if a stored row was marked now (false: already marked, or no row).
  virtual Result<bool> mark_blob_missing(const std::string& blob_id) = 0;
};

// A message recorded whole: by the milter from mail, by the API from an upload.
class OffloadCatalog {
 public:
  virtual ~OffloadCatalog() = default;

  // The message, its recipients, files, links, outbox rows and `offloaded`
  // events, in one transaction.
  virtual Result<OffloadIds> record_offload(const Offload& offload) = 0;
};

// What a sender (status page, API) and an admin (CLI) may do to a
// message's links.
class LinkActions {
 public:
  virtual ~LinkActions() = default;

  // Revokes the message's links not yet revoked, one `revoked` event each
  // ("by <by>"). Revoking again changes and records nothing.
  virtual Result<LinkChange> revoke_message_links(std::int64_t message_id, std::int64_t now,
                                                  const std::string& by) = 0;
  // Every link not revoked expires at max(expires_at, now) + seconds, one
  // `extended` event each. A revoked link stays revoked and is not touched.
  virtual Result<LinkChange> extend_message_links(std::int64_t message_id, std::int64_t seconds,
                                                  std::int64_t now, const std::string& by) = 0;
  // The message's link of its own for `recipient`, matched without regard
  // to case; none when it has none (a shared link, or an internal recipient
  // who got the attachment in the mail). At most one link per address is
  // expected; with several, the newest.
  virtual Result<std::optional<LinkRecord>> recipient_link(std::int64_t message_id,
                                                           const std::string& recipient) = 0;
  // Revokes only that recipient's link, with one `revoked` event carrying
  // the recipient ("by <by>"), in one transaction. None: the message has no
  // link for that address; links = 0: it was revoked already (nothing is
  // recorded again).
  virtual Result<std::optional<LinkChange>> revoke_recipient_link(std::int64_t message_id,
                                                                  const std::string& recipient,
                                                                  std::int64_t now,
                                                                  const std::string& by) = 0;
  // "Send again": revokes the recipient's link (if it is not revoked yet)
  // and gives them a new one to the same files still stored, with the same
  // download limit and access code, expiring after the old link's lifetime
  // from now (bounded by latest_expiry); records `revoked` and `resent`
  // events and a fresh link outbox row (due now), all in one transaction.
  virtual Result<ResendResult> resend_recipient_link(std::int64_t message_id,
                                                     const std::string& recipient,
                                                     const ResendRequest& request) = 0;
};

// The milter: an offload, and once the MTA has answered, its release or undoing.
class MilterCatalog : public virtual OffloadCatalog {
 public:
  virtual ~MilterCatalog() = default;

  // Deletes a message and everything hanging off it (an offload whose mail
  // never left); returns the blob ids the caller must now remove (its files'
  // and its recipient copies').
  virtual Result<std::vector<std::string>> remove_message(std::int64_t message_id) = 0;
  // Makes a message's held rows due now (the milter, once the MTA has the
  // rewritten mail); rows of a message that never got that far stay held.
  virtual Status release_outbox(std::int64_t message_id, std::int64_t now) = 0;
};

// The web server: landing pages, claims and transfers, the pixel, the
// sender's status page and the API.
class WebCatalog : public virtual CatalogReads,
                   public virtual MissingBlobs,
                   public virtual OffloadCatalog,
                   public virtual LinkActions {
 public:
  virtual ~WebCatalog() = default;

  virtual Result<std::optional<LinkRecord>> find_link_by_token_hash(
      const std::string& token_hash) = 0;
  virtual Result<std::optional<LinkRecord>> find_link_by_pixel(const std::string& pixel_id) = 0;
  virtual Result<std::optional<MessageRecord>> find_message_by_status_token(
      const std::string& token_hash) = 0;
  virtual Result<std::optional<DownloadRecord>> find_download(const std::string& ticket_hash) = 0;

  // Page views and tracking-pixel opens (`viewed`, `opened`) only record
  // interest and may be written without waiting for the disk: a power
  // failure may lose the last few. Every other event is durable on return.
  virtual Result<std::int64_t> add_event(const EventRecord& event) = 0;
  // The download claim: for each file one guarded update, and the ticket,
  // in one transaction. `won` for exactly one of any number of racing
  // callers when one download is left. A single-file claim wins or loses
  // whole; an `all` claim takes every file with downloads left and wins if
  // there was at least one.
  virtual Result<ClaimResult> claim_download(const NewDownload& claim) = 0;
  // Closes a download's ticket; false if it was closed already.
  virtual Result<bool> complete_download(std::int64_t download_id, std::int64_t now) = 0;

  // Gates, each decided by one guarded statement.
  //
  // A ticket carries one transfer at a time: begin_transfer takes it for
  // `owner` (a fresh random name per transfer) until now + lease_seconds,
  // unless another transfer holds an unexpired lease. The holder renews
  // while it sends (false: the lease is no longer its own), and ends the
  // transfer once, closing the ticket if it completed (complete_at); end
  // returns false if the lease had passed to another transfer, which then
  // changes nothing. A lease a crashed process left simply runs out.
  virtual Result<TransferStart> begin_transfer(std::int64_t download_id, const std::string& owner,
                                               std::int64_t now, std::int64_t lease_seconds) = 0;
  virtual Result<bool> renew_transfer(std::int64_t download_id, const std::string& owner,
                                      std::int64_t lease_until) = 0;
  virtual Result<bool> end_transfer(std::int64_t download_id, const std::string& owner,
                                    std::optional<std::int64_t> complete_at) = 0;
  // An access code is counted before the slow check: begin_code_attempt
  // admits it only while the link is neither paused nor locked, counts it
  // as wrong and applies the pause (every per_pause) or lock (lock_after)
  // that count reaches. A code that proves right is taken back with
  // refund_code_attempt, which also lifts a pause or lock it tripped
  // itself. So racing guesses can never get more than per_pause checks
  // before the pause. A wrong guess racing a right one may pause the link
  // one failure early: the gate errs on the closed side.
  virtual Result<CodeAttempt> begin_code_attempt(std::int64_t link_id, std::int64_t now,
                                                 const CodeLimits& limits) = 0;
  virtual Status refund_code_attempt(std::int64_t link_id, const CodeAttempt& attempt) = 0;

  // A download notice, queued when a download completes.
  virtual Result<std::int64_t> enqueue(const NewOutboxItem& item) = 0;
  // For a download notice: how many completed downloads the message has,
  // or (link_id given) the downloads through that one link.
  virtual Result<int> completed_downloads(std::int64_t message_id,
                                          std::optional<std::int64_t> link_id = std::nullopt) = 0;
  // Every completed download of the message's files, per link and file,
  // oldest first: a zip counts for each file it carried.
  virtual Result<std::vector<CompletedDownload>> completed_downloads_by_file(
      std::int64_t message_id) = 0;
};

// The notifier: the outbox (receipts, download notices, recipient copies,
// fresh links, webhooks) and the webhook feed that fills it.
class NotifyCatalog : public virtual CatalogReads {
 public:
  virtual ~NotifyCatalog() = default;

  // A sender takes due rows, and marks each sent (its payload is then
  // cleared: a receipt's payload holds the access code) or failed for good.
  // Payloads come back opened (see OutboxItem::unreadable).
  // webhooks: only webhook rows (true), only mail (false), or both.
  virtual Result<std::vector<OutboxItem>> due_outbox(
      std::int64_t now, int limit, std::optional<bool> webhooks = std::nullopt) = 0;
  // due_outbox for the sender that will send them: on a catalog shared by
  // several nodes (PostgreSQL) the rows are also claimed, in the same
  // transaction, for kOutboxClaimSeconds, so no other node's notifier takes
  // them meanwhile; a claimed row whose node died comes due again after.
  virtual Result<std::vector<OutboxItem>> claim_due_outbox(
      std::int64_t now, int limit, std::optional<bool> webhooks = std::nullopt) = 0;
  // Hands back rows claim_due_outbox(claimed_at, ...) claimed but the
  // sender did not try (a pass cut short by a dead relay): they are due at
  // once again rather than after the claim runs out. Rows not claimed then
  // (a SQLite catalog claims none) are left alone.
  virtual Status hand_back_outbox(const std::vector<std::int64_t>& ids,
                                  std::int64_t claimed_at) = 0;
  virtual Status outbox_sent(std::int64_t id, std::int64_t now) = 0;
  virtual Status outbox_retry(std::int64_t id, std::int64_t next_attempt_at,
                              const std::string& error) = 0;
  virtual Status outbox_give_up(std::int64_t id, std::int64_t now, const std::string& error) = 0;
  // Marks the start of an attempt to send a row: until it settles (sent,
  // retried, given up), a later due_outbox reads it as interrupted.
  virtual Status outbox_attempt(std::int64_t id) = 0;
  // A recipient copy or fresh link reached the MTA as queue_id: the row is
  // sent (its payload cleared), the link learns its queue id (for the
  // delivery watcher) and a `queued` event is recorded, together. The
  // caller then removes a copy's blob. A row marked already changes nothing.
  virtual Status copy_queued(const OutboxItem& item, const std::string& queue_id,
                             std::int64_t now) = 0;

  // The webhook feed turns new events into webhook outbox rows, remembering
  // the last event id it covered. start_ sets the cursor at the newest
  // event unless it is set already (so newly configured webhooks do not
  // replay history); stop_ forgets it, for when webhooks are switched off.
  // webhook_events reads up to limit events after the cursor of the kinds
  // webhooks report. enqueue_webhooks inserts the rows, moves the cursor
  // and, if more than max_queue webhook rows are waiting, gives up the
  // oldest, in one transaction; returns how many were given up so.
  virtual Status start_webhook_cursor() = 0;
  virtual Status stop_webhook_cursor() = 0;
  virtual Result<std::vector<WebhookEvent>> webhook_events(int limit) = 0;
  virtual Result<std::int64_t> enqueue_webhooks(const WebhookBatch& batch) = 0;
};

// The delivery watcher. A delivery is recorded once per message with its
// queue id (0: not our mail, or already recorded); a batch and the log
// position after it commit together.
class WatchCatalog {
 public:
  virtual ~WatchCatalog() = default;

  virtual Result<std::optional<WatchPosition>> load_watch_position(const std::string& log_path) = 0;
  virtual Status save_watch_position(const WatchPosition& position, std::int64_t now) = 0;
  virtual Result<int> record_delivery(const DeliveryReport& report) = 0;
  virtual Result<int> record_deliveries(const std::vector<DeliveryReport>& reports,
                                        const WatchPosition& position, std::int64_t now) = 0;
};

// The admin: the CLI's reports and actions, purge and reconciliation, and
// the checks made when the store opens.
class AdminCatalog : public virtual CatalogReads,
                     public virtual LinkActions,
                     public virtual MissingBlobs {
 public:
  virtual ~AdminCatalog() = default;

  virtual Result<std::vector<MessageSummary>> list_messages(int limit) = 0;
  // The last `days` UTC days up to and including now's, oldest first, each
  // listed even when empty. Only what the catalog still holds is counted:
  // purge forgets messages after event_retention.
  virtual Result<std::vector<DayStats>> stats_by_day(int days, std::int64_t now) = 0;

  // Purging. mark_purged re-checks under the write lock and records a
  // `purged` event; false: no longer purgeable.
  virtual Result<std::vector<PurgeCandidate>> purgeable_files(std::int64_t now) = 0;
  virtual Result<bool> mark_purged(const PurgeCandidate& file, std::int64_t now) = 0;
  virtual Result<ForgetReport> forget_before(std::int64_t cutoff) = 0;
  // One purge at a time across the nodes of a shared catalog: false when
  // another node holds the purge lock (PostgreSQL's session advisory lock
  // kPurgeLock; a SQLite catalog, one node's, always grants it). The lock
  // goes with unlock_purge or with the connection.
  virtual Result<bool> try_lock_purge() = 0;
  virtual Status unlock_purge() = 0;
  // Reconciliation with the blob store.
  virtual Result<std::vector<std::string>> blob_ids_in_use() = 0;

  virtual int schema_version() = 0;
  // The master key's check value (keys.h), or none before the first start
  // with a key. adopt_key_check records value unless one is recorded already,
  // and returns the one recorded (a racing starter's, maybe): the caller
  // compares it with its own.
  virtual Result<std::optional<std::string>> key_check() = 0;
  virtual Result<std::string> adopt_key_check(const std::string& value, std::int64_t now) = 0;
  // Outbox payloads are sealed with this key (KeyRing::outbox_seal_key) and
  // bound to their row; without it the outbox refuses to write or read.
  // Setting it also seals the waiting rows an older attachgate wrote in clear.
  virtual Status set_outbox_key(const Key& key) = 0;
};

}  // namespace attachgate::store
