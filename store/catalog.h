// store/catalog.h - the metadata database: SQLite (WAL) by default, or
// PostgreSQL shared by several nodes.
//
// One Catalog is one writing and one reading connection; its methods are
// safe to call from several threads (they serialise on the connection).
// Several processes (and, on PostgreSQL, nodes) may open the same catalog:
// SQLite's locking and busy_timeout arbitrate, or PostgreSQL's row locks and
// the write lock of sql.h. Writes that belong together (an offload) commit
// in one transaction or not at all. The schema is versioned (PRAGMA
// user_version; PostgreSQL's schema_version table) and migrated forward on
// open; a catalog from a newer attachgate is refused rather than guessed at.
// The SQL is written once for both engines (sql.h).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/catalog_records.h"
#include "store/catalog_roles.h"
#include "store/keys.h"
#include "store/records.h"
#include "store/sealer.h"
#include "store/sql.h"
#include "store/watch_records.h"
#include "store/webhook_records.h"
#include "util/result.h"

namespace attachgate::store {

// The back end of every role's interface (catalog_roles.h, where the
// contracts are written), on either engine.
class Catalog final : public MilterCatalog,
                      public WebCatalog,
                      public NotifyCatalog,
                      public WatchCatalog,
                      public AdminCatalog {
 public:
  // Deleted content is overwritten (PRAGMA secure_delete), not just freed.
  // location: a SQLite file (a path, or "sqlite:PATH") or a PostgreSQL URL
  // (sql.h), with its password given apart.
  static Result<Catalog> open(const std::string& location,
                              const std::optional<std::string>& password = std::nullopt);
  Engine engine() const override { return db_.engine(); }
  Catalog(Catalog&& o) noexcept
      : db_(std::move(o.db_)), reader_(std::move(o.reader_)), outbox_sealer_(o.outbox_sealer_) {}

  static int latest_schema_version();
  // The connection's PRAGMA synchronous (2 = FULL); for tests. Page views
  // and pixel opens (add_event of `viewed`, `opened`) commit under
  // synchronous = NORMAL (WAL): a power failure may lose the last few, and
  // the next durable commit carries them to disk. Every other write commits
  // under FULL.
  int synchronous_level();

  Result<bool> try_lock_purge() override;
  Status unlock_purge() override;

  // CatalogReads
  Result<std::optional<MessageRecord>> find_message(std::int64_t id) override;
  Result<std::optional<MessageDetail>> show_message(const std::string& id) override;
  Result<std::optional<std::int64_t>> message_row_id(const std::string& id) override;
  Result<std::vector<LinkFile>> link_files(std::int64_t link_id) override;
  Result<std::optional<FileRecord>> find_file(const std::string& public_id) override;
  Result<std::int64_t> count(CatalogTable table) override { return count(table_name(table)); }
  Status ping() override;
  Result<StoredTotals> stored_totals() override;
  Result<std::int64_t> outbox_depth(OutboxKind kind) override;

  // OffloadCatalog, MilterCatalog (catalog_write.cc, catalog_outbox.cc)
  Result<OffloadIds> record_offload(const Offload& offload) override;
  Result<std::vector<std::string>> remove_message(std::int64_t message_id) override;
  Status release_outbox(std::int64_t message_id, std::int64_t now) override;

  // LinkActions (catalog_admin.cc, catalog_recipients.cc)
  Result<LinkChange> revoke_message_links(std::int64_t message_id, std::int64_t now,
                                          const std::string& by) override;
  Result<LinkChange> extend_message_links(std::int64_t message_id, std::int64_t seconds,
                                          std::int64_t now, const std::string& by) override;
  Result<std::optional<LinkRecord>> recipient_link(std::int64_t message_id,
                                                   const std::string& recipient) override;
  Result<std::optional<LinkChange>> revoke_recipient_link(std::int64_t message_id,
                                                          const std::string& recipient,
                                                          std::int64_t now,
                                                          const std::string& by) override;
  Result<ResendResult> resend_recipient_link(std::int64_t message_id, const std::string& recipient,
                                             const ResendRequest& request) override;

  // WebCatalog (the gates in catalog_gates.cc)
  Result<std::optional<LinkRecord>> find_link_by_token_hash(const std::string& token_hash) override;
  Result<std::optional<LinkRecord>> find_link_by_pixel(const std::string& pixel_id) override;
  Result<std::optional<MessageRecord>> find_message_by_status_token(
      const std::string& token_hash) override;
  Result<std::optional<DownloadRecord>> find_download(const std::string& ticket_hash) override;
  Result<std::int64_t> add_event(const EventRecord& event) override;
  Result<ClaimResult> claim_download(const NewDownload& claim) override;
  Result<bool> complete_download(std::int64_t download_id, std::int64_t now) override;
  Result<TransferStart> begin_transfer(std::int64_t download_id, const std::string& owner,
                                       std::int64_t now, std::int64_t lease_seconds) override;
  Result<bool> renew_transfer(std::int64_t download_id, const std::string& owner,
                              std::int64_t lease_until) override;
  Result<bool> end_transfer(std::int64_t download_id, const std::string& owner,
                            std::optional<std::int64_t> complete_at) override;
  Result<CodeAttempt> begin_code_attempt(std::int64_t link_id, std::int64_t now,
                                         const CodeLimits& limits) override;
  Status refund_code_attempt(std::int64_t link_id, const CodeAttempt& attempt) override;
  Result<std::int64_t> enqueue(const NewOutboxItem& item) override;
  Result<int> completed_downloads(std::int64_t message_id,
                                  std::optional<std::int64_t> link_id = std::nullopt) override;
  Result<std::vector<CompletedDownload>> completed_downloads_by_file(
      std::int64_t message_id) override;

  // NotifyCatalog (catalog_outbox.cc, catalog_webhooks.cc)
  Result<std::vector<OutboxItem>> due_outbox(std::int64_t now, int limit,
                                             std::optional<bool> webhooks = std::nullopt) override;
  Status hand_back_outbox(const std::vector<std::int64_t>& ids, std::int64_t claimed_at) override;
  Result<std::vector<OutboxItem>> claim_due_outbox(
      std::int64_t now, int limit, std::optional<bool> webhooks = std::nullopt) override;
  Status outbox_sent(std::int64_t id, std::int64_t now) override;
  Status outbox_retry(std::int64_t id, std::int64_t next_attempt_at,
                      const std::string& error) override;
  Status outbox_give_up(std::int64_t id, std::int64_t now, const std::string& error) override;
  Status outbox_attempt(std::int64_t id) override;
  Status copy_queued(const OutboxItem& item, const std::string& queue_id,
                     std::int64_t now) override;
  Status start_webhook_cursor() override;
  Status stop_webhook_cursor() override;
  Result<std::vector<WebhookEvent>> webhook_events(int limit) override;
  Result<std::int64_t> enqueue_webhooks(const WebhookBatch& batch) override;

  // WatchCatalog (catalog_watch.cc)
  Result<std::optional<WatchPosition>> load_watch_position(const std::string& log_path) override;
  Status save_watch_position(const WatchPosition& position, std::int64_t now) override;
  Result<int> record_delivery(const DeliveryReport& report) override;
  Result<int> record_deliveries(const std::vector<DeliveryReport>& reports,
                                const WatchPosition& position, std::int64_t now) override;

  // AdminCatalog (catalog_admin.cc, catalog_purge.cc, catalog.cc)
  Result<std::vector<MessageSummary>> list_messages(int limit) override;
  Result<std::vector<DayStats>> stats_by_day(int days, std::int64_t now) override;
  Result<std::vector<PurgeCandidate>> purgeable_files(std::int64_t now) override;
  Result<bool> mark_purged(const PurgeCandidate& file, std::int64_t now) override;
  Result<ForgetReport> forget_before(std::int64_t cutoff) override;
  Result<std::vector<std::string>> blob_ids_in_use() override;
  Result<bool> mark_blob_missing(const std::string& blob_id) override;
  int schema_version() override;
  Result<std::optional<std::string>> key_check() override;
  Result<std::string> adopt_key_check(const std::string& value, std::int64_t now) override;
  Status set_outbox_key(const Key& key) override;

 private:
  Catalog(Db db, Db reader) : db_(std::move(db)), reader_(std::move(reader)) {}
  // count(CatalogTable) by the table's name, which is ours, never a caller's text.
  Result<std::int64_t> count(const char* table);
  Status migrate(const std::string& where);
  Result<int> stored_version();
  Result<std::vector<OutboxItem>> read_due_outbox(std::int64_t now, int limit,
                                                  std::optional<bool> webhooks, bool claim);  // under mu_ or in migrate's transaction
  Result<std::int64_t> add_event_postgres(const EventRecord& event, bool interest);
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
