// util/metrics_file.h - one process's metrics handed to another through a
// small file, for roles that run in separate processes.
//
// The writer replaces the file whole (temp name, then rename, mode 0600)
// every interval and once more when it stops, and ends it with a marker
// line; the reader returns nothing for a file without the marker or over
// its size bound. No fsync: the numbers are a view, not a record, and a
// crash that loses them loses only what a restart resets anyway.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "util/result.h"

namespace attachgate {

// Writes text plus the end marker to path via a temporary name in the same
// directory, creating the directory (0700) if needed.
Status write_metrics_file(const std::string& path, const std::string& text);
// The text written by write_metrics_file, without its marker; nothing if the
// file is missing, unfinished, or larger than max_bytes.
std::optional<std::string> read_metrics_file(const std::string& path, std::size_t max_bytes = 256 * 1024);

class MetricsFileWriter {
 public:
  // Starts a thread that writes render() every interval. The thread blocks
  // every signal, so signals keep going to the threads that wait for them.
  MetricsFileWriter(std::string path, std::chrono::milliseconds interval,
                    std::function<std::string()> render);
  // Stops the thread and writes one last time.
  ~MetricsFileWriter();
  MetricsFileWriter(const MetricsFileWriter&) = delete;
  MetricsFileWriter& operator=(const MetricsFileWriter&) = delete;

 private:
  void run();
  void write_once();

  const std::string path_;
  const std::chrono::milliseconds interval_;
  const std::function<std::string()> render_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool warned_ = false;  // one warning per run of failures, not one per interval
  std::thread thread_;
};

}  // namespace attachgate
