// util/units.cc - see units.h.
#include "util/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>

namespace attachgate {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string upper(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<std::int64_t> parse_duration(std::string_view text) {
  std::string_view s = trim(text);
  std::size_t i = 0;
  std::int64_t n = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    if (n > std::numeric_limits<std::int64_t>::max() / 10 - 9)
      return make_error("duration '" + std::string(text) + "' is too large");
    n = n * 10 + (s[i] - '0');
    ++i;
  }
  if (i == 0 || i + 1 != s.size())
    return make_error("duration '" + std::string(text) +
                      "' must be a whole number followed by s, m, h, d or w (e.g. 7d)");
  std::int64_t unit = 0;
  switch (s[i]) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default:
      return make_error("duration '" + std::string(text) + "' has unknown unit '" +
                        std::string(1, s[i]) + "' (use s, m, h, d or w)");
  }
  if (n > std::numeric_limits<std::int64_t>::max() / unit)
    return make_error("duration '" + std::string(text) + "' is too large");
  return n * unit;
}

Result<std::uint64_t> parse_size(std::string_view text) {
  std::string_view s = trim(text);
  std::size_t i = 0;
  bool dot = false;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || (s[i] == '.' && !dot))) {
    dot = dot || s[i] == '.';
    ++i;
  }
  std::string number(s.substr(0, i));
  if (number.empty() || number == ".")
    return make_error("size '" + std::string(text) + "' must start with a number (e.g. 10MB)");
  std::string unit = upper(trim(s.substr(i)));
  double mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "KB" || unit == "K") mult = 1e3;
  else if (unit == "MB" || unit == "M") mult = 1e6;
  else if (unit == "GB" || unit == "G") mult = 1e9;
  else if (unit == "KIB") mult = 1024.0;
  else if (unit == "MIB") mult = 1024.0 * 1024;
  else if (unit == "GIB") mult = 1024.0 * 1024 * 1024;
  else
    return make_error("size '" + std::string(text) + "' has unknown unit '" + unit +
                      "' (use B, KB, MB, GB, KiB, MiB or GiB)");
  double bytes = std::stod(number) * mult;
  if (!(bytes < 9.0e18)) return make_error("size '" + std::string(text) + "' is too large");
  return static_cast<std::uint64_t>(std::llround(bytes));
}

std::string format_size(std::uint64_t bytes) {
  char buf[32];
  if (bytes < 1000) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else if (bytes < 1000ull * 1000) {
    std::snprintf(buf, sizeof buf, "%.1f KB", static_cast<double>(bytes) / 1e3);
  } else if (bytes < 1000ull * 1000 * 1000) {
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GB", static_cast<double>(bytes) / 1e9);
  }
  return buf;
}

std::string format_duration(std::int64_t seconds) {
  if (seconds > 0 && seconds % 86400 == 0) return std::to_string(seconds / 86400) + "d";
  if (seconds > 0 && seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
  if (seconds > 0 && seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds) + "s";
}

static std::string format_utc(std::int64_t unix_seconds, const char* fmt) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm {};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

std::string format_date(std::int64_t unix_seconds) { return format_utc(unix_seconds, "%Y-%m-%d"); }
std::string format_time(std::int64_t unix_seconds) {
  return format_utc(unix_seconds, "%Y-%m-%d %H:%M:%S");
}

std::string format_iso_time(std::int64_t unix_seconds) {
  return format_utc(unix_seconds, "%Y-%m-%dT%H:%M:%SZ");
}

}  // namespace attachgate
