// web/work_pool.cc - see work_pool.h.
#include "web/work_pool.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/log.h"

namespace attachgate::web {

WorkPool::WorkPool(int threads, int nice)
    : ctx_(threads < 1 ? 1 : threads), work_(ctx_.get_executor()) {
  const int n = threads < 1 ? 1 : threads;
  threads_.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this, nice, i] {
      // On Linux a thread's niceness is its own: this lowers only the pool.
      if (nice != 0 &&
          ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), nice) != 0 &&
          i == 0)
        log_warn(std::string("work pool: cannot lower thread priority: ") + std::strerror(errno));
      ctx_.run();
    });
  }
}

WorkPool::~WorkPool() {
  work_.reset();
  for (auto& t : threads_) t.join();
}

}  // namespace attachgate::web
