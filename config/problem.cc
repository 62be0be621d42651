// config/problem.cc - rendering config problems as `file:line: message`.
//
// Messages are built from the admin's own files and fixed text, so they are
// printed as they are; nothing here reads input.
#include "config/problem.h"

namespace attachgate::config {

std::string Problem::to_string() const {
  if (line <= 0) return file + ": " + message;
  return file + ":" + std::to_string(line) + ": " + message;
}

std::string format_problems(const std::vector<Problem>& problems) {
  std::string out;
  for (const Problem& p : problems) {
    if (!out.empty()) out += '\n';
    out += p.to_string();
  }
  return out;
}

}  // namespace attachgate::config
