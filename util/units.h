// util/units.h - durations and sizes as people write them in config and CLI.
//
// Durations: a whole number and a unit, e.g. "90s", "30m", "12h", "7d", "2w".
// Sizes: a number and an optional unit, e.g. "512", "10KB", "5MB", "1.5GB";
// units are powers of 1000 (KB, MB, GB) or 1024 (KiB, MiB, GiB).
// Input is untrusted text: anything else, or an overflow, is an Error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.h"

namespace attachgate {

Result<std::int64_t> parse_duration(std::string_view text);  // seconds
Result<std::uint64_t> parse_size(std::string_view text);     // bytes

std::string format_size(std::uint64_t bytes);      // "31.2 MB"
std::string format_duration(std::int64_t seconds);  // "7d", "36h", "90s"
// UTC calendar date and time of a Unix time: "2026-11-29" / "2026-11-29 14:03:07".
std::string format_date(std::int64_t unix_seconds);
std::string format_time(std::int64_t unix_seconds);
// ISO 8601 in UTC, as JSON output writes times: "2026-11-29T14:03:07Z".
std::string format_iso_time(std::int64_t unix_seconds);

}  // namespace attachgate
