// milter/metrics.h - what the milter counts: each message it answered, by
// outcome, and how long end of message took.
//
// The milter runs in its own process; the web role publishes these numbers
// at /metrics from the file the app has exposition() written to (see
// util/metrics_file.h). Only counts and times: nothing from the mail.
#pragma once

#include <string>

#include "util/metrics.h"

namespace attachgate::milter {

class MilterMetrics {
 public:
  enum class Answer { offloaded, passed, tempfailed };

  // One message answered: at end of message, or earlier when it passed
  // unchanged (over a limit) or was tempfailed before its end.
  void message(Answer answer);
  // Time from the end-of-message callback to its answer, in seconds.
  void end_of_message_seconds(double seconds) { eom_seconds_.observe(seconds); }

  std::string exposition() const;

 private:
  Counter seen_, offloaded_, passed_, tempfailed_;
  // From 5 ms (a small mail kept whole) to 2 min (a large one offloaded to a slow disk).
  Histogram eom_seconds_{{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}};
};

}  // namespace attachgate::milter
