// store/catalog_columns.cc - see catalog_columns.h.
#include "store/catalog_columns.h"

namespace attachgate::store {
namespace {

constexpr ColumnType I = ColumnType::integer, T = ColumnType::text, B = ColumnType::bytes;

constexpr Column kMessages[] = {
    {"id", I},          {"public_id", T},   {"queue_id", T},          {"sender", T},
    {"subject", T},     {"auth_user", T},   {"client_addr", T},       {"outcome", T},
    {"created_at", I},  {"status_token_hash", B}, {"download_notice", T},
    {"header_message_id", T},
};
constexpr Column kRecipients[] = {{"id", I}, {"message_id", I}, {"address", T}};
constexpr Column kFiles[] = {
    {"id", I},     {"public_id", T}, {"message_id", I}, {"filename", T}, {"content_type", T},
    {"size", I},   {"sha256", T},    {"blob_id", T},    {"state", T},    {"created_at", I},
};
constexpr Column kLinks[] = {
    {"id", I},           {"message_id", I},   {"token_hash", B},   {"pixel_id", T},
    {"recipient", T},    {"expires_at", I},   {"max_downloads", I}, {"code_hash", T},
    {"track_opens", I},  {"failed_codes", I}, {"locked_until", I}, {"revoked_at", I},
    {"created_at", I},   {"queue_id", T},
};
constexpr Column kLinkFiles[] = {{"link_id", I}, {"file_id", I}, {"downloads", I}};
constexpr Column kEvents[] = {
    {"id", I}, {"message_id", I}, {"file_id", I},     {"link_id", I},    {"kind", T},
    {"at", I}, {"recipient", T},  {"remote_addr", T}, {"user_agent", T}, {"detail", T},
};
constexpr Column kDownloads[] = {
    {"id", I},          {"ticket_hash", B}, {"link_id", I},     {"is_zip", I},
    {"claimed_at", I},  {"resume_until", I}, {"completed_at", I}, {"remote_addr", T},
    {"user_agent", T},  {"lease_owner", T}, {"lease_until", I},
};
constexpr Column kDownloadFiles[] = {{"download_id", I}, {"file_id", I}};
constexpr Column kOutbox[] = {
    {"id", I},         {"kind", T},       {"message_id", I}, {"target", T},
    {"payload", B},    {"attempts", I},   {"next_attempt_at", I}, {"last_error", T},
    {"created_at", I}, {"sent_at", I},    {"failed_at", I},  {"blob_id", T},
    {"link_id", I},
};
constexpr Column kWatchPosition[] = {
    {"log_path", T}, {"device", I}, {"inode", I}, {"offset", I}, {"updated_at", I},
};
constexpr Column kWebhookCursor[] = {{"id", I}, {"last_event_id", I}};
constexpr Column kKeyCheck[] = {{"id", I}, {"value", B}, {"created_at", I}};

const TableColumns kTables[] = {
    {CatalogTable::messages, kMessages, 1, true},
    {CatalogTable::recipients, kRecipients, 1, true},
    {CatalogTable::files, kFiles, 1, true},
    {CatalogTable::links, kLinks, 1, true},
    {CatalogTable::link_files, kLinkFiles, 2, false},
    {CatalogTable::events, kEvents, 1, true},
    {CatalogTable::downloads, kDownloads, 1, true},
    {CatalogTable::download_files, kDownloadFiles, 2, false},
    {CatalogTable::outbox, kOutbox, 1, true},
    {CatalogTable::watch_position, kWatchPosition, 1, false},
    {CatalogTable::webhook_cursor, kWebhookCursor, 1, false},
    {CatalogTable::key_check, kKeyCheck, 1, false},
};

}  // namespace

const TableColumns& columns_of(CatalogTable table) {
  for (const TableColumns& t : kTables)
    if (t.table == table) return t;
  panic("catalog: a CatalogTable with no columns listed");
}

}  // namespace attachgate::store
