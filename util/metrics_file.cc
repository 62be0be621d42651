// util/metrics_file.cc - see metrics_file.h.
#include "util/metrics_file.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "util/fs_sync.h"
#include "util/log.h"

namespace attachgate {
namespace {

constexpr std::string_view kEndMarker = "# end of attachgate metrics\n";

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

Status write_metrics_file(const std::string& path, const std::string& text) {
  if (auto s = make_dirs(parent_dir(path), 0700); !s) return s;
  const std::string tmp = path + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return make_error(errno_text("open " + tmp));
  std::string all = text;
  if (!all.empty() && all.back() != '\n') all += '\n';
  all += kEndMarker;
  if (auto s = write_all(fd.get(), all.data(), all.size()); !s) return s;
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return make_error(errno_text("rename " + tmp));
  return {};
}

std::optional<std::string> read_metrics_file(const std::string& path, std::size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return std::nullopt;
  // One byte more than allowed tells an oversized file from one that fits.
  std::string text(max_bytes + 1, '\0');
  auto got = read_full(fd.get(), text.data(), text.size());
  if (!got || *got > max_bytes) return std::nullopt;
  text.resize(*got);
  if (!text.ends_with(kEndMarker)) return std::nullopt;
  text.resize(text.size() - kEndMarker.size());
  return text;
}

MetricsFileWriter::MetricsFileWriter(std::string path, std::chrono::milliseconds interval,
                                     std::function<std::string()> render)
    : path_(std::move(path)), interval_(interval), render_(std::move(render)) {
  // Started with every signal blocked, so it inherits the mask from birth
  // and no signal can land on it before it could block them itself.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  thread_ = std::thread([this] { run(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

MetricsFileWriter::~MetricsFileWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  write_once();
}

void MetricsFileWriter::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    write_once();
    lock.lock();
    cv_.wait_for(lock, interval_, [this] { return stop_; });
  }
}

void MetricsFileWriter::write_once() {
  auto s = write_metrics_file(path_, render_());
  if (!s && !warned_) log_warn("metrics file: " + s.error().message);
  warned_ = !s;
}

}  // namespace attachgate
