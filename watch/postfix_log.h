// watch/postfix_log.h - one line of Postfix's log, read for a delivery verdict.
//
// Only a delivery agent's (or qmgr's) per-recipient line counts:
//   TIME HOST NAME/DAEMON[PID]: QUEUEID: to=<rcpt>, relay=..., dsn=X.Y.Z, status=WORD (reply)
// with status sent (delivered), deferred or bounced. TIME is the syslog form
// "Nov 23 18:00:32" (local time, no year) or the ISO form
// "2026-11-23T18:00:32.123456+00:00"; a line whose time cannot be read gets
// `now`. Log lines are untrusted (the reply is a remote server's text):
// lines over kMaxLogLine are refused, and the caller's store cleans the rest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "store/watch_records.h"

namespace attachgate::watch {

// Postfix's own log lines stay far below this; anything longer is not one.
inline constexpr std::size_t kMaxLogLine = 16 * 1024;

// The delivery verdict in line (without its newline), or nullopt for every
// other line: other daemons, other statuses, garbage.
std::optional<store::DeliveryReport> parse_delivery_line(std::string_view line, std::int64_t now);

// The time at the start of line as a Unix time, or nullopt. A syslog time
// has no year: it is taken in now's year, or the year before if that would
// put it more than a day after now (a December line read in January).
std::optional<std::int64_t> parse_log_time(std::string_view line, std::int64_t now);

}  // namespace attachgate::watch
