// fuzz/postfix_log_fuzz.cc - Postfix log lines (watch/postfix_log.*).
//
// Log lines carry remote servers' replies, so every byte is hostile. Each
// input is one line. Checked beyond memory safety: a verdict is only ever
// read from a line within kMaxLogLine, its fields are pieces of that line,
// and parse_log_time agrees with the verdict's time.
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "watch/postfix_log.h"

using namespace attachgate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  constexpr std::int64_t kNow = 1'795'000'000;  // 2026-11-18
  auto report = watch::parse_delivery_line(line, kNow);
  auto at = watch::parse_log_time(line, kNow);
  if (!report) return 0;
  FUZZ_CHECK(size <= watch::kMaxLogLine, "verdict from a %zu-byte line", size);
  FUZZ_CHECK(report->queue_id.size() >= 5 && report->queue_id.size() <= 32, "queue id '%s'",
             report->queue_id.c_str());
  for (const auto* field : {&report->queue_id, &report->recipient, &report->relay, &report->dsn})
    FUZZ_CHECK(line.find(*field) != std::string_view::npos, "field '%s' is not in the line", field->c_str());
  FUZZ_CHECK(report->at == (at ? *at : kNow), "time %lld vs parse_log_time %lld",
             static_cast<long long>(report->at), static_cast<long long>(at ? *at : kNow));
  return 0;
}
