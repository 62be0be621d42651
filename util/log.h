// util/log.h - Postfix-style log lines: "attachgate[pid]: message".
//
// Severities mean fixed things (CONVENTIONS.md): info and warn carry on;
// fatal exits cleanly with status 2; panic (util/result.h) aborts. Lines go to
// stderr, which systemd's journal or the demo's log file collects. Callers
// pass untrusted text through terminal_safe() first; log() itself replaces
// any CR/LF so one event is always one line.
#pragma once

#include <string>
#include <string_view>

namespace attachgate {

void log_info(std::string_view message);
void log_warn(std::string_view message);
[[noreturn]] void log_fatal(std::string_view message);
// The program name shown before [pid]; "attachgate" unless set.
void set_log_name(std::string name);

}  // namespace attachgate
