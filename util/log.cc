// util/log.cc - see log.h.
#include "util/log.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace attachgate {
namespace {

std::mutex& log_mutex() {
  static std::mutex mu;
  return mu;
}

std::string& log_name() {
  static std::string name = "attachgate";
  return name;
}

void emit(std::string_view severity, std::string_view message) {
  std::string line = log_name() + "[" + std::to_string(::getpid()) + "]: ";
  if (!severity.empty()) line.append(severity).append(": ");
  for (char c : message) line += (c == '\r' || c == '\n') ? ' ' : c;
  line += '\n';
  std::lock_guard lock(log_mutex());
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

void log_info(std::string_view message) { emit("", message); }
void log_warn(std::string_view message) { emit("warning", message); }
void log_fatal(std::string_view message) {
  emit("fatal", message);
  std::exit(2);
}
void set_log_name(std::string name) { log_name() = std::move(name); }

}  // namespace attachgate
