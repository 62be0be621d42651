// milter/metrics.cc - see metrics.h.
#include "milter/metrics.h"

#include <ctime>

namespace attachgate::milter {

void MilterMetrics::message(Answer answer) {
  seen_.add();
  switch (answer) {
    case Answer::offloaded: offloaded_.add(); break;
    case Answer::passed: passed_.add(); break;
    case Answer::tempfailed: tempfailed_.add(); break;
  }
}

std::string MilterMetrics::exposition() const {
  Exposition e;
  e.counter("attachgate_messages_seen_total",
            "Messages the milter answered (offloaded + passed + tempfailed).", seen_.value());
  e.counter("attachgate_messages_offloaded_total",
            "Messages whose attachments were offloaded to links.", offloaded_.value());
  e.counter("attachgate_messages_passed_total",
            "Messages passed on unchanged: kept whole by policy, over a limit, signed or "
            "encrypted, or after an error with on_error = accept.",
            passed_.value());
  e.counter("attachgate_messages_tempfailed_total",
            "Messages answered with a temporary failure (451); the MTA retries them.",
            tempfailed_.value());
  e.histogram("attachgate_end_of_message_seconds",
              "Time the milter took to answer end of message, including the body rewrite.",
              eom_seconds_.snapshot());
  // Lets an alert tell a stopped milter from a quiet one.
  e.gauge("attachgate_milter_metrics_written_timestamp_seconds",
          "Unix time the milter last wrote these numbers.",
          static_cast<double>(std::time(nullptr)));
  return e.text();
}

}  // namespace attachgate::milter
