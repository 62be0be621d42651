// config/toml_reader.h - located, typed reads from a TOML file (internal to config/).
//
// Every read that finds something wrong records a Problem with the line of the
// offending value and returns nothing, so a loader can carry on and report all
// problems in one pass. A TableReader remembers which keys were asked for;
// finish() reports the rest as unknown, so a typo never silently passes.
// Config files come from the admin, but are still bounded in size (1 MiB).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <toml.hpp>
#include <vector>

#include "config/problem.h"

namespace attachgate::config::detail {

// Reads and parses path. On failure adds a Problem (with the line of a syntax
// error) and returns nothing.
std::optional<toml::value> parse_toml_file(const std::string& path, std::vector<Problem>& problems);

// "a string", "an integer", ... for messages about wrong types.
std::string type_name(const toml::value& v);
int line_of(const toml::value& v);

// Sorts by line so a report reads top to bottom; table iteration order is not file order.
void sort_problems(std::vector<Problem>& problems);

class TableReader {
 public:
  // where: how messages name this table, e.g. "[http]" or "rule \"x\"".
  // prefix: put before key names in messages, e.g. "http.".
  TableReader(const toml::value& table, std::string file, std::string where, std::string prefix,
              std::vector<Problem>& problems);

  bool has(std::string_view key) const;
  int line(std::string_view key) const;  // the key's value, or the table's own line
  int table_line() const { return line_of(table_); }
  void report(int line, std::string message);

  // Marks key as known and returns its value, if present.
  const toml::value* take(std::string_view key);

  // Each returns nothing when the key is absent or its value is wrong (reported).
  std::optional<std::string> text(std::string_view key);  // non-empty, no control characters
  std::optional<bool> flag(std::string_view key);
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t lo, std::int64_t hi);
  // Bounds are written the way an admin would, e.g. "1KiB", and appear in messages.
  std::optional<std::uint64_t> size(std::string_view key, std::string_view lo, std::string_view hi);
  std::optional<std::int64_t> duration(std::string_view key, std::string_view lo,
                                       std::string_view hi);
  std::optional<std::string> choice(std::string_view key,
                                    std::initializer_list<std::string_view> allowed);
  // check_item returns a message for a bad element, or "" when it is fine.
  using ItemCheck = std::function<std::string(std::string_view)>;
  std::optional<std::vector<std::string>> text_list(std::string_view key, bool allow_empty,
                                                    const ItemCheck& check_item);
  // A sub-table written as [key]; reports anything else.
  const toml::value* table(std::string_view key);

  // Reports every key that no read asked for.
  void finish();

  std::string name(std::string_view key) const { return prefix_ + std::string(key); }

 private:
  const toml::value& table_;
  std::string file_;
  std::string where_;
  std::string prefix_;
  std::vector<Problem>& problems_;
  std::vector<std::string> known_;
};

}  // namespace attachgate::config::detail
