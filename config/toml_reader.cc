// config/toml_reader.cc - located, typed reads from a TOML file; see toml_reader.h.
//
// toml11 throws on bad syntax; this is the one place that catches, turning
// each exception into a Problem with its line. The file is read whole but
// bounded (1 MiB), and deep nesting is refused before toml11's recursive
// parser can run out of stack on it.
#include "config/toml_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <tuple>

#include "util/result.h"
#include "util/text.h"
#include "util/units.h"

namespace attachgate::config::detail {
namespace {

constexpr std::size_t kMaxFileBytes = 1024 * 1024;

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

bool has_control(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

// toml11 formats a syntax error as several lines with a source excerpt and a
// caret; a `file:line: message` report wants one line: its summary, plus the
// hint written next to the caret when there is one.
std::string one_line(const std::string& what) {
  std::string first = what.substr(0, what.find('\n'));
  if (first.rfind("[error] ", 0) == 0) first.erase(0, 8);
  if (first.rfind("toml::", 0) == 0) {
    std::size_t colon = first.find(": ");
    if (colon != std::string::npos) first.erase(0, colon + 2);
  }
  std::string last = what.substr(what.rfind('\n') == std::string::npos ? 0 : what.rfind('\n') + 1);
  std::size_t bar = last.find('|');
  std::string hint;
  if (bar != std::string::npos) {
    std::size_t i = bar + 1;
    while (i < last.size() &&
           (last[i] == ' ' || last[i] == '^' || last[i] == '-' || last[i] == '~'))
      ++i;
    hint = trim(last.substr(i));
  }
  first = trim(first);
  if (!first.empty() && first.back() == '.') first.pop_back();
  if (!hint.empty() && hint.back() == '.') hint.pop_back();
  if (first.empty())
    first = hint;
  else if (!hint.empty() && hint != first)
    first += " (" + hint + ")";
  // A bare word where a value belongs is read as a failed `true`/`false`;
  // the likely mistake is a string without quotes.
  if (hint.find("not a boolean") != std::string::npos)
    first += "; put text in quotes, e.g. key = \"value\"";
  return first;
}

// toml11 parses nested arrays and inline tables by recursion, and a few
// thousand levels overflow the stack. No setting nests more than two deep, so
// a cheap scan refuses deep nesting before the parser sees it. Returns the
// line where the limit is passed, or 0.
int too_deep_line(std::string_view text, int limit) {
  int line = 1, depth = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
    } else if (c == '#') {
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
    } else if (c == '"' || c == '\'') {
      bool multi = text.substr(i, 3) == std::string(3, c);
      std::string_view close = multi ? text.substr(i, 3) : text.substr(i, 1);
      for (i += close.size(); i < text.size() && text.substr(i, close.size()) != close; ++i) {
        if (c == '"' && text[i] == '\\') ++i;  // only basic strings have escapes
        if (i < text.size() && text[i] == '\n') ++line;
      }
      i += close.size() - 1;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return line;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return 0;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The line (from 1) of the first byte that is not UTF-8, or 0. A TOML file
// must be UTF-8, and toml11 3.7 reads out of bounds when a multi-line
// string holds bytes that are not (found by fuzz/config_fuzz.cc), so such a
// file never reaches it.
int first_non_utf8_line(std::string_view content) {
  int line = 1;
  for (std::size_t start = 0; start <= content.size(); ++line) {
    std::size_t end = content.find('\n', start);
    if (end == std::string_view::npos) end = content.size();
    if (!valid_utf8(content.substr(start, end - start))) return line;
    start = end + 1;
  }
  return 0;
}

}  // namespace

std::optional<toml::value> parse_toml_file(const std::string& path,
                                           std::vector<Problem>& problems) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    problems.push_back({path, 0, std::string("cannot open: ") + std::strerror(errno)});
    return std::nullopt;
  }
  std::string content;
  char buf[8192];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    content.append(buf, n);
    if (content.size() > kMaxFileBytes) {
      problems.push_back({path, 0, "is larger than 1 MiB; is this the right file?"});
      return std::nullopt;
    }
  }
  if (std::ferror(f.get())) {
    problems.push_back({path, 0, std::string("cannot read: ") + std::strerror(errno)});
    return std::nullopt;
  }
  if (int line = first_non_utf8_line(content)) {
    problems.push_back({path, line, "is not UTF-8 text; save the file as UTF-8"});
    return std::nullopt;
  }
  if (int line = too_deep_line(content, 16)) {
    problems.push_back(
        {path, line, "values are nested more than 16 levels deep; no setting needs that"});
    return std::nullopt;
  }
  std::istringstream in(content);
  try {
    return toml::parse(in, path);
  } catch (const toml::syntax_error& e) {
    problems.push_back(
        {path, static_cast<int>(e.location().line()), "TOML syntax error: " + one_line(e.what())});
  } catch (const std::exception& e) {
    problems.push_back({path, 0, std::string("cannot parse: ") + e.what()});
  }
  return std::nullopt;
}

std::string type_name(const toml::value& v) {
  switch (v.type()) {
    case toml::value_t::boolean:
      return "true/false";
    case toml::value_t::integer:
      return "an integer";
    case toml::value_t::floating:
      return "a number with a fraction";
    case toml::value_t::string:
      return "a string";
    case toml::value_t::array:
      return "a list";
    case toml::value_t::table:
      return "a table";
    case toml::value_t::empty:
      return "nothing";
    default:
      return "a date/time";
  }
}

int line_of(const toml::value& v) { return static_cast<int>(v.location().line()); }

void sort_problems(std::vector<Problem>& problems) {
  std::sort(problems.begin(), problems.end(), [](const Problem& a, const Problem& b) {
    return std::tie(a.file, a.line, a.message) < std::tie(b.file, b.line, b.message);
  });
}

TableReader::TableReader(const toml::value& table, std::string file, std::string where,
                         std::string prefix, std::vector<Problem>& problems)
    : table_(table),
      file_(std::move(file)),
      where_(std::move(where)),
      prefix_(std::move(prefix)),
      problems_(problems) {
  if (!table_.is_table()) panic("TableReader on a value that is not a table");
}

bool TableReader::has(std::string_view key) const {
  return table_.as_table().count(std::string(key)) != 0;
}

int TableReader::line(std::string_view key) const {
  auto it = table_.as_table().find(std::string(key));
  return it == table_.as_table().end() ? table_line() : line_of(it->second);
}

void TableReader::report(int line, std::string message) {
  problems_.push_back({file_, line, std::move(message)});
}

const toml::value* TableReader::take(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
  auto it = table_.as_table().find(std::string(key));
  return it == table_.as_table().end() ? nullptr : &it->second;
}

std::optional<std::string> TableReader::text(std::string_view key) {
  const toml::value* v = take(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    report(line_of(*v), name(key) + " must be a string, not " + type_name(*v));
    return std::nullopt;
  }
  const std::string& s = v->as_string().str;
  if (trim(s).empty()) {
    report(line_of(*v), name(key) + " must not be empty");
    return std::nullopt;
  }
  if (has_control(s)) {
    report(line_of(*v), name(key) + " must not contain control characters");
    return std::nullopt;
  }
  return s;
}

std::optional<bool> TableReader::flag(std::string_view key) {
  const toml::value* v = take(key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    report(line_of(*v), name(key) + " must be true or false, not " + type_name(*v));
    return std::nullopt;
  }
  return v->as_boolean();
}

std::optional<std::int64_t> TableReader::integer(std::string_view key, std::int64_t lo,
                                                 std::int64_t hi) {
  const toml::value* v = take(key);
  if (!v) return std::nullopt;
  if (!v->is_integer()) {
    report(line_of(*v), name(key) + " must be a whole number, not " + type_name(*v));
    return std::nullopt;
  }
  std::int64_t n = v->as_integer();
  if (n < lo || n > hi) {
    report(line_of(*v), name(key) + " must be between " + std::to_string(lo) + " and " +
                            std::to_string(hi) + ", not " + std::to_string(n));
    return std::nullopt;
  }
  return n;
}

std::optional<std::uint64_t> TableReader::size(std::string_view key, std::string_view lo,
                                               std::string_view hi) {
  const toml::value* v = take(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    report(line_of(*v),
           name(key) + " must be a quoted size such as \"10MB\", not " + type_name(*v));
    return std::nullopt;
  }
  const std::string& s = v->as_string().str;
  Result<std::uint64_t> bytes = parse_size(s);
  if (!bytes) {
    report(line_of(*v), name(key) + ": " + bytes.error().message);
    return std::nullopt;
  }
  if (*bytes < parse_size(lo).value() || *bytes > parse_size(hi).value()) {
    report(line_of(*v), name(key) + " must be between " + std::string(lo) + " and " +
                            std::string(hi) + ", not \"" + s + "\"");
    return std::nullopt;
  }
  return *bytes;
}

std::optional<std::int64_t> TableReader::duration(std::string_view key, std::string_view lo,
                                                  std::string_view hi) {
  const toml::value* v = take(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    report(line_of(*v),
           name(key) + " must be a quoted duration such as \"7d\", not " + type_name(*v));
    return std::nullopt;
  }
  const std::string& s = v->as_string().str;
  Result<std::int64_t> seconds = parse_duration(s);
  if (!seconds) {
    report(line_of(*v), name(key) + ": " + seconds.error().message);
    return std::nullopt;
  }
  if (*seconds < parse_duration(lo).value() || *seconds > parse_duration(hi).value()) {
    report(line_of(*v), name(key) + " must be between " + std::string(lo) + " and " +
                            std::string(hi) + ", not \"" + s + "\"");
    return std::nullopt;
  }
  return *seconds;
}

std::optional<std::string> TableReader::choice(std::string_view key,
                                               std::initializer_list<std::string_view> allowed) {
  const toml::value* v = take(key);
  if (!v) return std::nullopt;
  std::string list;
  for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  if (!v->is_string()) {
    report(line_of(*v),
           name(key) + " must be a string (one of " + list + "), not " + type_name(*v));
    return std::nullopt;
  }
  const std::string& s = v->as_string().str;
  for (std::string_view a : allowed)
    if (s == a) return s;
  report(line_of(*v), name(key) + " \"" + s + "\" is not one of " + list);
  return std::nullopt;
}

std::optional<std::vector<std::string>> TableReader::text_list(std::string_view key,
                                                               bool allow_empty,
                                                               const ItemCheck& check_item) {
  const toml::value* v = take(key);
  if (!v) return std::nullopt;
  if (!v->is_array()) {
    report(line_of(*v),
           name(key) + " must be a list of strings such as [\"...\"], not " + type_name(*v));
    return std::nullopt;
  }
  if (v->as_array().empty() && !allow_empty) {
    report(line_of(*v), name(key) + " is an empty list; list at least one entry or remove the key");
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (const toml::value& item : v->as_array()) {
    if (!item.is_string()) {
      report(line_of(item), name(key) + " must contain only strings, not " + type_name(item));
      ok = false;
      continue;
    }
    const std::string& s = item.as_string().str;
    std::string why;
    if (trim(s).empty())
      why = "is empty; remove it or write a pattern";
    else if (has_control(s))
      why = "contains control characters";
    else if (check_item)
      why = check_item(s);
    if (!why.empty()) {
      report(line_of(item), name(key) + " entry \"" + (has_control(s) ? "..." : s) + "\" " + why);
      ok = false;
      continue;
    }
    out.push_back(s);
  }
  if (!ok) return std::nullopt;
  return out;
}

const toml::value* TableReader::table(std::string_view key) {
  const toml::value* v = take(key);
  if (!v) return nullptr;
  if (!v->is_table()) {
    report(line_of(*v),
           name(key) + " must be a table written as [" + name(key) + "], not " + type_name(*v));
    return nullptr;
  }
  return v;
}

void TableReader::finish() {
  for (const auto& [key, value] : table_.as_table()) {
    if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
    std::string best;
    std::size_t best_distance = 3;
    for (const std::string& k : known_) {
      std::size_t d = edit_distance(key, k);
      if (d < best_distance && d * 2 < k.size()) {
        best = k;
        best_distance = d;
      }
    }
    bool is_table = value.is_table();
    std::string message =
        is_table ? "unknown table [" + name(key) + "]"
                 : "unknown key \"" + key + "\"" + (where_.empty() ? "" : " in " + where_);
    if (!best.empty())
      message +=
          is_table ? "; did you mean [" + name(best) + "]?" : "; did you mean \"" + best + "\"?";
    else
      message += "; expected one of " + join(known_);
    report(line_of(value), message);
  }
}

}  // namespace attachgate::config::detail
