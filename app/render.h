// app/render.h - catalog reports for people (text) and for scripts (JSON).
//
// Text from mail (sender, subject, filenames) is passed through
// terminal_safe() before it reaches a terminal; JSON carries it as is
// (nlohmann-json escapes it, invalid UTF-8 is replaced).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/catalog_records.h"
#include "store/records.h"

namespace attachgate::app {

std::string list_text(const std::vector<store::MessageSummary>& messages);
nlohmann::json list_json(const std::vector<store::MessageSummary>& messages);

std::string show_text(const store::MessageDetail& detail, std::int64_t now);
nlohmann::json show_json(const store::MessageDetail& detail, std::int64_t now);

// `attachgate stats`: one row per UTC day, the window's totals, and what
// is stored now.
std::string stats_text(const std::vector<store::DayStats>& days, const store::StoredTotals& stored);
nlohmann::json stats_json(const std::vector<store::DayStats>& days,
                          const store::StoredTotals& stored);

// `attachgate events`: a message's audit trail. CSV follows RFC 4180 (CRLF,
// fields with a comma, quote or line break quoted, quotes doubled) and
// defuses untrusted text a spreadsheet would run as a formula.
std::string events_csv(const store::MessageDetail& detail);
nlohmann::json events_json(const store::MessageDetail& detail);

// Pretty JSON with a final newline; invalid UTF-8 becomes U+FFFD.
std::string json_text(const nlohmann::json& j);

// "2026-11-22T21:57:38Z"
std::string iso_time(std::int64_t unix_seconds);

}  // namespace attachgate::app
