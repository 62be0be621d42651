// Tests util/metrics.cc and util/metrics_file.cc: the Prometheus text
// format exactly as written, counters under threads, and the file handed
// from one process to another.
#include "util/metrics.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <limits>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"
#include "util/metrics_file.h"

namespace attachgate {
namespace {

TEST(Metrics, CounterHasHelpTypeAndValue) {
  Exposition e;
  e.counter("x_total", "Things seen.\nWith a \\ in help.", 42);
  EXPECT_EQ(e.text(),
            "# HELP x_total Things seen.\\nWith a \\\\ in help.\n"
            "# TYPE x_total counter\n"
            "x_total 42\n");
}

TEST(Metrics, LabelValuesAreEscaped) {
  Exposition e;
  e.counter("y_total", "By kind.", "kind", {{"a\"b", 1}, {"c\\d", 2}, {"e\nf", 3}});
  EXPECT_EQ(e.text(),
            "# HELP y_total By kind.\n"
            "# TYPE y_total counter\n"
            "y_total{kind=\"a\\\"b\"} 1\n"
            "y_total{kind=\"c\\\\d\"} 2\n"
            "y_total{kind=\"e\\nf\"} 3\n");
}

TEST(Metrics, GaugesFormatValues) {
  Exposition e;
  e.gauge("g", "A gauge.", 3.0);
  e.gauge("h", "Labelled.", "kind", {{"webhook", 0.5}, {"receipt", 7}});
  EXPECT_EQ(e.text(),
            "# HELP g A gauge.\n# TYPE g gauge\ng 3\n"
            "# HELP h Labelled.\n# TYPE h gauge\nh{kind=\"webhook\"} 0.5\nh{kind=\"receipt\"} 7\n");
  constexpr double kInf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(format_metric_value(kInf), "+Inf");
  EXPECT_EQ(format_metric_value(-kInf), "-Inf");
  EXPECT_EQ(format_metric_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(format_metric_value(0.005), "0.005");
  EXPECT_EQ(format_metric_value(120), "120");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Histogram h({0.25, 1, 10});
  for (double v : {0.125, 0.25, 0.5, 2.0, 20.0, 30.0}) h.observe(v);
  Exposition e;
  e.histogram("t_seconds", "Time.", h.snapshot());
  EXPECT_EQ(e.text(),
            "# HELP t_seconds Time.\n"
            "# TYPE t_seconds histogram\n"
            "t_seconds_bucket{le=\"0.25\"} 2\n"  // a value on a bound counts in that bucket
            "t_seconds_bucket{le=\"1\"} 3\n"
            "t_seconds_bucket{le=\"10\"} 4\n"
            "t_seconds_bucket{le=\"+Inf\"} 6\n"
            "t_seconds_sum 52.875\n"
            "t_seconds_count 6\n");
}

TEST(Metrics, EmptyHistogramHasZeroes) {
  Histogram h({1});
  Exposition e;
  e.histogram("z", "Nothing yet.", h.snapshot());
  EXPECT_NE(e.text().find("z_bucket{le=\"1\"} 0\nz_bucket{le=\"+Inf\"} 0\nz_sum 0\nz_count 0\n"),
            std::string::npos)
      << e.text();
}

TEST(Metrics, LabeledCounterShowsPresetValuesAtZeroSorted) {
  LabeledCounter c({"part", "complete"});
  c.add("interrupted", 2);
  auto v = c.values();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], (std::pair<std::string, std::uint64_t>("complete", 0)));
  EXPECT_EQ(v[1], (std::pair<std::string, std::uint64_t>("interrupted", 2)));
  EXPECT_EQ(v[2], (std::pair<std::string, std::uint64_t>("part", 0)));
  EXPECT_EQ(c.value("nothing"), 0u);
}

TEST(Metrics, CountersUnderThreadsLoseNothing) {
  Counter plain;
  LabeledCounter labelled;
  Histogram h({1});
  constexpr int kThreads = 8, kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        plain.add();
        labelled.add(t % 2 ? "odd" : "even");
        h.observe(i % 2 ? 0.5 : 2.0);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(plain.value(), std::uint64_t{kThreads} * kEach);
  EXPECT_EQ(labelled.value("odd") + labelled.value("even"), std::uint64_t{kThreads} * kEach);
  auto s = h.snapshot();
  EXPECT_EQ(s.count, std::uint64_t{kThreads} * kEach);
  EXPECT_EQ(s.cumulative[0], s.count / 2);
}

TEST(MetricsDeathTest, BadNamesAreOurBug) {
  Exposition e;
  EXPECT_DEATH(e.counter("1abc", "x", 1), "bad metric");
  EXPECT_DEATH(e.counter("a b", "x", 1), "bad metric");
  EXPECT_DEATH(e.counter("ok_total", "x", "bad-label", {}), "bad metric");
  EXPECT_DEATH(Histogram({2, 1}), "ascending");
}

TEST(MetricsFile, RoundTripsWithModeAndMarker) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/metrics/milter.prom";
  ASSERT_TRUE(write_metrics_file(path, "a_total 1\n").ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_metrics_file(path).value_or("missing"), "a_total 1\n");
  // An unfinished file (no end marker), a missing one or an oversized one gives nothing.
  std::ofstream(path) << "a_total 1\n";
  EXPECT_FALSE(read_metrics_file(path).has_value());
  EXPECT_FALSE(read_metrics_file(dir.path() + "/none").has_value());
  ASSERT_TRUE(write_metrics_file(path, std::string(100, '#') + "\n").ok());
  EXPECT_FALSE(read_metrics_file(path, 50).has_value());
  EXPECT_TRUE(read_metrics_file(path, 200).has_value());
}

TEST(MetricsFile, WriterWritesAtOnceAndAtStop) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/m.prom";
  std::atomic<int> n{0};
  {
    MetricsFileWriter writer(path, std::chrono::hours(1), [&] { return "n " + std::to_string(++n) + "\n"; });
    for (int i = 0; i < 200 && !read_metrics_file(path); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(read_metrics_file(path).value_or(""), "n 1\n");
  }
  EXPECT_EQ(read_metrics_file(path).value_or(""), "n 2\n") << "the last numbers are written at stop";
}

}  // namespace
}  // namespace attachgate
