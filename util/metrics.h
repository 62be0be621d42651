// util/metrics.h - counters, a fixed-bucket histogram, and the Prometheus
// text exposition format (version 0.0.4) they are published in.
//
// Counters are atomics, so any thread may count without a lock. Metric and
// label names are ours and fixed; a bad one is a broken invariant and
// aborts. Label values are escaped, but they must still come from a small
// set the program chooses (an HTTP status, an outcome), never from a
// request or a mail: a metric must not leak or multiply on untrusted input.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attachgate {

class Counter {
 public:
  void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// One counter per value of a single label. Values named at construction
// are shown from the start, at 0, so a rate over them is defined at once.
class LabeledCounter {
 public:
  explicit LabeledCounter(std::vector<std::string> preset = {});
  void add(const std::string& label_value, std::uint64_t n = 1);
  std::uint64_t value(const std::string& label_value) const;
  // Sorted by label value.
  std::vector<std::pair<std::string, std::uint64_t>> values() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::uint64_t> counts_;
};

// What a histogram held at one moment; `cumulative[i]` counts observations
// <= bounds[i], as the exposition format wants them.
struct HistogramSnapshot {
  std::vector<double> bounds;
  std::vector<std::uint64_t> cumulative;
  std::uint64_t count = 0;
  double sum = 0;
};

// A lock rather than atomics: one observation per message is cheap to
// serialise, and a snapshot is then consistent (count equals the +Inf bucket).
class Histogram {
 public:
  // Upper bounds, finite and strictly ascending; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  HistogramSnapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<std::uint64_t> buckets_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
};

// Builds one exposition: each call adds a metric's HELP and TYPE lines and
// its samples.
class Exposition {
 public:
  using Samples = std::vector<std::pair<std::string, double>>;  // label value, value

  void counter(std::string_view name, std::string_view help, std::uint64_t value);
  void counter(std::string_view name, std::string_view help, std::string_view label,
               const std::vector<std::pair<std::string, std::uint64_t>>& values);
  void gauge(std::string_view name, std::string_view help, double value);
  void gauge(std::string_view name, std::string_view help, std::string_view label,
             const Samples& values);
  void histogram(std::string_view name, std::string_view help, const HistogramSnapshot& h);

  const std::string& text() const { return text_; }

 private:
  void header(std::string_view name, std::string_view help, std::string_view type);
  std::string text_;
};

// A label value inside its quotes: backslash, double quote and line feed escaped.
std::string escape_label_value(std::string_view value);
// A sample value: integers without a fraction, others shortest round-trip,
// and "+Inf", "-Inf", "NaN".
std::string format_metric_value(double value);

}  // namespace attachgate
