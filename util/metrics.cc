// util/metrics.cc - see metrics.h.
#include "util/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "util/result.h"

namespace attachgate {
namespace {

bool name_char(char c, bool first, bool colon_ok) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (c == ':') return colon_ok;
  return !first && c >= '0' && c <= '9';
}

// Names are chosen in code, so a bad one is our bug, not a runtime error.
void check_name(std::string_view name, bool colon_ok) {
  bool ok = !name.empty();
  for (std::size_t i = 0; ok && i < name.size(); ++i) ok = name_char(name[i], i == 0, colon_ok);
  if (!ok) panic("bad metric or label name");
}

// HELP text escapes only backslash and line feed.
std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace

LabeledCounter::LabeledCounter(std::vector<std::string> preset) {
  for (auto& v : preset) counts_.emplace(std::move(v), 0);
}

void LabeledCounter::add(const std::string& label_value, std::uint64_t n) {
  std::lock_guard lock(mu_);
  counts_[label_value] += n;
}

std::uint64_t LabeledCounter::value(const std::string& label_value) const {
  std::lock_guard lock(mu_);
  auto it = counts_.find(label_value);
  return it == counts_.end() ? 0 : it->second;
}

std::vector<std::pair<std::string, std::uint64_t>> LabeledCounter::values() const {
  std::lock_guard lock(mu_);
  return {counts_.begin(), counts_.end()};
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1, 0) {
  for (std::size_t i = 0; i < bounds_.size(); ++i)
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1]))
      panic("histogram bounds must be finite and ascending");
}

void Histogram::observe(double value) {
  // The first bucket whose bound is >= value; past the last bound, +Inf.
  const auto i = static_cast<std::size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard lock(mu_);
  ++buckets_[i];
  sum_ += value;
}

HistogramSnapshot Histogram::snapshot() const {
  HistogramSnapshot s;
  s.bounds = bounds_;
  std::lock_guard lock(mu_);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) s.cumulative.push_back(running += buckets_[i]);
  s.count = running + buckets_.back();
  s.sum = sum_;
  return s;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) panic("format_metric_value: buffer too small");
  return std::string(buf, end);
}

void Exposition::header(std::string_view name, std::string_view help, std::string_view type) {
  check_name(name, true);
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  text_ += escape_help(help);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type;
  text_ += '\n';
}

void Exposition::counter(std::string_view name, std::string_view help, std::uint64_t value) {
  header(name, help, "counter");
  text_ += std::string(name) + ' ' + std::to_string(value) + '\n';
}

void Exposition::counter(std::string_view name, std::string_view help, std::string_view label,
                         const std::vector<std::pair<std::string, std::uint64_t>>& values) {
  header(name, help, "counter");
  check_name(label, false);
  for (const auto& [v, n] : values)
    text_ += std::string(name) + '{' + std::string(label) + "=\"" + escape_label_value(v) + "\"} " +
             std::to_string(n) + '\n';
}

void Exposition::gauge(std::string_view name, std::string_view help, double value) {
  header(name, help, "gauge");
  text_ += std::string(name) + ' ' + format_metric_value(value) + '\n';
}

void Exposition::gauge(std::string_view name, std::string_view help, std::string_view label,
                       const Samples& values) {
  header(name, help, "gauge");
  check_name(label, false);
  for (const auto& [v, x] : values)
    text_ += std::string(name) + '{' + std::string(label) + "=\"" + escape_label_value(v) + "\"} " +
             format_metric_value(x) + '\n';
}

void Exposition::histogram(std::string_view name, std::string_view help, const HistogramSnapshot& h) {
  header(name, help, "histogram");
  const std::string n(name);
  for (std::size_t i = 0; i < h.bounds.size(); ++i)
    text_ += n + "_bucket{le=\"" + format_metric_value(h.bounds[i]) + "\"} " +
             std::to_string(h.cumulative[i]) + '\n';
  text_ += n + "_bucket{le=\"+Inf\"} " + std::to_string(h.count) + '\n';
  text_ += n + "_sum " + format_metric_value(h.sum) + '\n';
  text_ += n + "_count " + std::to_string(h.count) + '\n';
}

}  // namespace attachgate
