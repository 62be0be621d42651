// watch/postfix_log.cc - see postfix_log.h. A hand-written scanner rather
// than a regex: the input is untrusted and std::regex backtracks badly on
// long hostile lines.
#include "watch/postfix_log.h"

#include <ctime>
#include <string>

namespace attachgate::watch {
namespace {

using store::EventKind;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) {
  return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// Reads exactly n digits at s[i], advancing i.
std::optional<int> digits(std::string_view s, std::size_t& i, std::size_t n) {
  if (i + n > s.size()) return std::nullopt;
  int v = 0;
  for (std::size_t k = 0; k < n; ++k) {
    if (!is_digit(s[i + k])) return std::nullopt;
    v = v * 10 + (s[i + k] - '0');
  }
  i += n;
  return v;
}

bool expect(std::string_view s, std::size_t& i, char c) {
  if (i >= s.size() || s[i] != c) return false;
  ++i;
  return true;
}

bool valid_clock(const std::tm& tm) {
  return tm.tm_mon >= 0 && tm.tm_mon < 12 && tm.tm_mday >= 1 && tm.tm_mday <= 31 &&
         tm.tm_hour < 24 && tm.tm_min < 60 && tm.tm_sec <= 60;
}

// "2026-11-23T18:00:32[.123456](Z|+01:00|+0100)"
std::optional<std::int64_t> iso_time(std::string_view s) {
  std::size_t i = 0;
  std::tm tm{};
  auto y = digits(s, i, 4);
  if (!y || !expect(s, i, '-')) return std::nullopt;
  auto mo = digits(s, i, 2);
  if (!mo || !expect(s, i, '-')) return std::nullopt;
  auto d = digits(s, i, 2);
  if (!d || !expect(s, i, 'T')) return std::nullopt;
  auto h = digits(s, i, 2);
  if (!h || !expect(s, i, ':')) return std::nullopt;
  auto mi = digits(s, i, 2);
  if (!mi || !expect(s, i, ':')) return std::nullopt;
  auto sec = digits(s, i, 2);
  if (!sec) return std::nullopt;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
  }
  std::int64_t offset = 0;  // seconds east of UTC; 'Z' is 0
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i++] == '-' ? -1 : 1;
    auto oh = digits(s, i, 2);
    (void)expect(s, i, ':');  // "+01:00" and "+0100" both occur
    auto om = digits(s, i, 2);
    if (!oh || !om) return std::nullopt;
    offset = sign * (*oh * 3600 + *om * 60);
  } else if (!expect(s, i, 'Z')) {
    return std::nullopt;
  }
  tm.tm_year = *y - 1900;
  tm.tm_mon = *mo - 1;
  tm.tm_mday = *d;
  tm.tm_hour = *h;
  tm.tm_min = *mi;
  tm.tm_sec = *sec;
  if (!valid_clock(tm)) return std::nullopt;
  return static_cast<std::int64_t>(timegm(&tm)) - offset;
}

// "Nov 23 18:00:32" or "Nov  3 18:00:32", local time, no year.
std::optional<std::int64_t> syslog_time(std::string_view s, std::int64_t now) {
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (s.size() < 15 || s[3] != ' ') return std::nullopt;
  std::size_t month = kMonths.find(s.substr(0, 3));
  if (month == std::string_view::npos || month % 3 != 0) return std::nullopt;
  std::tm tm{};
  tm.tm_mon = static_cast<int>(month / 3);
  std::size_t i = 4;
  if (s[i] == ' ') {
    ++i;
    auto d = digits(s, i, 1);
    if (!d) return std::nullopt;
    tm.tm_mday = *d;
  } else {
    auto d = digits(s, i, 2);
    if (!d) return std::nullopt;
    tm.tm_mday = *d;
  }
  auto h = expect(s, i, ' ') ? digits(s, i, 2) : std::nullopt;
  auto mi = h && expect(s, i, ':') ? digits(s, i, 2) : std::nullopt;
  auto sec = mi && expect(s, i, ':') ? digits(s, i, 2) : std::nullopt;
  if (!sec) return std::nullopt;
  tm.tm_hour = *h;
  tm.tm_min = *mi;
  tm.tm_sec = *sec;
  if (!valid_clock(tm)) return std::nullopt;
  std::time_t now_t = static_cast<std::time_t>(now);
  std::tm local{};
  localtime_r(&now_t, &local);
  for (int year : {local.tm_year, local.tm_year - 1}) {
    std::tm t = tm;
    t.tm_year = year;
    t.tm_isdst = -1;
    std::int64_t at = static_cast<std::int64_t>(std::mktime(&t));
    if (at <= now + 86400) return at;
  }
  return std::nullopt;
}

// The end of the "NAME/DAEMON[PID]: " tag that Postfix puts before its
// message, or npos. It must be the line's first ": " (a syslog header holds
// none), so text further on cannot pose as a tag. Postfix always logs as
// syslog_name/service, which sets its lines apart from other programs'.
std::size_t after_postfix_tag(std::string_view line) {
  std::size_t colon = line.find(": ");
  if (colon == std::string_view::npos || colon < 4 || line[colon - 1] != ']')
    return std::string_view::npos;
  std::size_t open = line.rfind('[', colon);
  if (open == std::string_view::npos || open + 2 > colon - 1) return std::string_view::npos;
  for (std::size_t k = open + 1; k < colon - 1; ++k)
    if (!is_digit(line[k])) return std::string_view::npos;
  std::size_t space = line.rfind(' ', open);
  std::size_t name_start = space == std::string_view::npos ? 0 : space + 1;
  std::string_view name = line.substr(name_start, open - name_start);
  std::size_t slash = name.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == name.size())
    return std::string_view::npos;
  return colon + 2;
}

std::optional<EventKind> kind_of(std::string_view status) {
  if (status == "sent") return EventKind::delivered;
  if (status == "deferred") return EventKind::deferred;
  if (status == "bounced") return EventKind::bounced;
  return std::nullopt;  // expired, deliverable, undeliverable, ...: not a delivery
}

// Skips one "key=<address>" field, whose address may itself hold ", ".
std::size_t after_address(std::string_view s, std::size_t value_start) {
  std::size_t close = s.find(">, ", value_start);
  return close == std::string_view::npos ? std::string_view::npos : close + 3;
}

}  // namespace

std::optional<std::int64_t> parse_log_time(std::string_view line, std::int64_t now) {
  if (auto t = iso_time(line)) return t;
  return syslog_time(line, now);
}

std::optional<store::DeliveryReport> parse_delivery_line(std::string_view line,
                                                         std::int64_t now) {
  if (line.size() > kMaxLogLine) return std::nullopt;
  std::size_t i = after_postfix_tag(line);
  if (i == std::string_view::npos) return std::nullopt;

  store::DeliveryReport r;
  std::size_t id_end = i;
  while (id_end < line.size() && is_alnum(line[id_end])) ++id_end;
  if (id_end - i < 5 || id_end - i > 32 || line.substr(id_end, 6) != ": to=<") return std::nullopt;
  r.queue_id = std::string(line.substr(i, id_end - i));

  std::size_t rcpt = id_end + 6;
  std::size_t next = after_address(line, rcpt);
  if (next == std::string_view::npos) return std::nullopt;
  r.recipient = std::string(line.substr(rcpt, next - 3 - rcpt));

  // Then "key=value, " fields, Postfix's own, up to status=.
  std::optional<EventKind> kind;
  while (next < line.size()) {
    std::string_view rest = line.substr(next);
    if (rest.rfind("status=", 0) == 0) {
      std::size_t word_end = rest.find(' ');
      kind = kind_of(rest.substr(7, word_end == std::string_view::npos ? std::string_view::npos
                                                                        : word_end - 7));
      if (word_end != std::string_view::npos && rest.substr(word_end, 2) == " (") {
        std::string_view reply = rest.substr(word_end + 2);
        if (!reply.empty() && reply.back() == ')') reply.remove_suffix(1);
        r.reply = std::string(reply);
      }
      break;
    }
    if (rest.rfind("orig_to=<", 0) == 0) {
      next = after_address(line, next + 9);
      if (next == std::string_view::npos) return std::nullopt;
      continue;
    }
    std::size_t comma = rest.find(", ");
    std::string_view field = rest.substr(0, comma);
    if (field.rfind("relay=", 0) == 0) r.relay = std::string(field.substr(6));
    if (field.rfind("dsn=", 0) == 0) r.dsn = std::string(field.substr(4));
    if (comma == std::string_view::npos) break;
    next += comma + 2;
  }
  if (!kind) return std::nullopt;
  r.kind = *kind;
  r.at = parse_log_time(line, now).value_or(now);
  return r;
}

}  // namespace attachgate::watch
