// store/catalog_records.h - what the catalog's operations hand back beyond
// its rows (records.h): claim and gate outcomes, purge candidates, report
// figures, "send again" requests and results, and the tables count() knows.
//
// Shared by every back end and every role (catalog_roles.h), so that each
// names the same types. Text in them came from the catalog, whose mail text
// is untrusted (see records.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/records.h"
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

// The tables count() counts (for tests, /healthz and start-up checks): an
// enum, so no caller names a table as text and every back end keeps the
// same set.
enum class CatalogTable {
  messages, recipients, files, links, link_files, events, downloads, download_files,
  outbox, watch_position, webhook_cursor, key_check,
};
// The table's name in the schema (catalog_schema.h), as SQL text.
inline const char* table_name(CatalogTable table) {
  switch (table) {
    case CatalogTable::messages: return "messages";
    case CatalogTable::recipients: return "recipients";
    case CatalogTable::files: return "files";
    case CatalogTable::links: return "links";
    case CatalogTable::link_files: return "link_files";
    case CatalogTable::events: return "events";
    case CatalogTable::downloads: return "downloads";
    case CatalogTable::download_files: return "download_files";
    case CatalogTable::outbox: return "outbox";
    case CatalogTable::watch_position: return "watch_position";
    case CatalogTable::webhook_cursor: return "webhook_cursor";
    case CatalogTable::key_check: return "key_check";
  }
  panic("catalog: a CatalogTable with no name");
}
inline constexpr CatalogTable kCatalogTables[] = {
    CatalogTable::messages,   CatalogTable::recipients,     CatalogTable::files,
    CatalogTable::links,      CatalogTable::link_files,     CatalogTable::events,
    CatalogTable::downloads,  CatalogTable::download_files, CatalogTable::outbox,
    CatalogTable::watch_position, CatalogTable::webhook_cursor, CatalogTable::key_check,
};

}  // namespace attachgate::store
