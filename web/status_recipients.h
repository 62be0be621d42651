// web/status_recipients.h - the sender's status page, per recipient: who
// got what through which link, from a message's catalog record.
//
// With links per recipient, each envelope recipient with a link of their
// own gets a row saying delivery, first open, downloads per file (with
// times) and the state of their newest link; opens and download times
// count every link they have had (a link sent again replaces the old one). A recipient without one (matched without
// regard to case) got the attachment in the mail: only delivery shows. A
// message whose one link is shared by all recipients has no such rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/catalog_records.h"
#include "store/records.h"
#include "web/pages.h"

namespace attachgate::web {

// True when some link of the message belongs to one recipient.
bool has_recipient_links(const store::MessageDetail& d);

// "delivered 2026-11-23 18:00:05 UTC" from the latest delivered, deferred
// or bounced event for this address, or "no delivery news yet".
std::string delivery_of(const std::string& address, const std::vector<store::EventRecord>& events);

// One row per envelope recipient, in the order the message lists them, then
// a row for any link whose recipient is not listed there. `done` is
// WebCatalog::completed_downloads_by_file for the message.
std::vector<StatusRecipient> recipient_rows(const store::MessageDetail& d,
                                            const std::vector<store::CompletedDownload>& done,
                                            std::int64_t now);

// "Send again" from the status page: a recipient may have at most this
// many links (the first and four sent again), the new one expires at most
// kSenderMaxLifetime after the message was sent (as extending does), and
// only while some file is still stored. An admin's `attachgate resend` has
// no such bounds.
inline constexpr int kSenderMaxLinksPerRecipient = 5;
inline constexpr std::int64_t kSenderMaxLifetime = 90 * 86400;
bool can_send_again(const store::MessageDetail& d, const std::string& address, std::int64_t now);

// The index in d.links of the recipient's own link, matched without regard
// to case; -1 when they have none.
int own_link_index(const store::MessageDetail& d, const std::string& address);

// "2026-11-23 18:00:05 UTC", as the whole status page writes times.
std::string status_time(std::int64_t t);

}  // namespace attachgate::web
