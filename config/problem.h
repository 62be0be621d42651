// config/problem.h - what is wrong with a config file, and where.
//
// Loading a config file collects every problem rather than stopping at the
// first, so `attachgate check` can show an admin the whole list at once.
// Each Problem renders as `file:line: message`, the form start-up and check
// print; line 0 means the problem concerns the whole file (e.g. it is missing).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace attachgate::config {

struct Problem {
  std::string file;
  int line = 0;
  std::string message;

  std::string to_string() const;  // "file:line: message", or "file: message" when line == 0
  bool operator==(const Problem&) const = default;
};

// The result of reading a config file: a value only when there are no problems.
template <class T>
struct Loaded {
  std::optional<T> value;
  std::vector<Problem> problems;

  bool ok() const { return value.has_value() && problems.empty(); }
};

// One problem per line, in order, without a trailing newline.
std::string format_problems(const std::vector<Problem>& problems);

}  // namespace attachgate::config
