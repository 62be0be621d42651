// web/work_pool.h - a fixed set of threads for work that blocks: SQLite
// calls (a claim waits for fsync), access-code hashing (Argon2id, tens of
// milliseconds of CPU) and blob decryption.
//
// The server's I/O threads only do I/O. A connection's coroutine hands such
// work to a pool with co_await pool.run(fn) and resumes on its own executor
// when fn returns (or rethrows what fn threw). The thread count is fixed, so
// a flood of slow work queues here instead of taking every core; a pool made
// with a positive `nice` also yields the CPU to the rest of the process.
// pending() says how much is queued or running, for callers that refuse new
// work past a bound.
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace attachgate::web {

class WorkPool {
 public:
  // `threads` >= 1; `nice` is added to each thread's scheduling niceness
  // (Linux: per thread), 0 to leave it.
  explicit WorkPool(int threads, int nice = 0);
  // Finishes the queued work, then joins the threads.
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // fn() on a pool thread; the caller resumes on its own executor.
  template <class F>
  boost::asio::awaitable<std::invoke_result_t<F&>> run(F fn) {
    using R = std::invoke_result_t<F&>;
    namespace net = boost::asio;
    Pending counted(pending_);
    if constexpr (std::is_void_v<R>) {
      co_await net::co_spawn(
          ctx_.get_executor(), [fn = std::move(fn)]() mutable -> net::awaitable<void> {
            fn();
            co_return;
          },
          net::use_awaitable);
    } else {
      // Asio 1.74's co_spawn wants a result it can default-construct
      // (Result<T> is not), so the value travels in an optional.
      std::optional<R> r = co_await net::co_spawn(
          ctx_.get_executor(),
          [fn = std::move(fn)]() mutable -> net::awaitable<std::optional<R>> {
            co_return std::optional<R>(fn());
          },
          net::use_awaitable);
      co_return std::move(*r);
    }
  }

  // Calls queued or running now.
  std::size_t pending() const { return pending_.load(); }
  int threads() const { return static_cast<int>(threads_.size()); }

 private:
  // Counts a call from its start until it resumes the caller (or is dropped).
  class Pending {
   public:
    explicit Pending(std::atomic<std::size_t>& n) : n_(n) { ++n_; }
    ~Pending() { --n_; }
    Pending(const Pending&) = delete;
    Pending& operator=(const Pending&) = delete;

   private:
    std::atomic<std::size_t>& n_;
  };

  boost::asio::io_context ctx_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::atomic<std::size_t> pending_{0};
  std::vector<std::thread> threads_;
};

}  // namespace attachgate::web
