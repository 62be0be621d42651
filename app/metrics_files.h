// app/metrics_files.h - where a role leaves its metrics for the web role to
// publish at /metrics (see util/metrics_file.h). The app owns the path so
// that milter/ and web/ need not know about each other.
#pragma once

#include <chrono>
#include <string>

namespace attachgate::app {

inline std::string milter_metrics_file(const std::string& state_dir) {
  return state_dir + "/metrics/milter.prom";
}

// How stale the milter's numbers at /metrics may be.
inline constexpr std::chrono::seconds kMetricsFileInterval{2};

}  // namespace attachgate::app
