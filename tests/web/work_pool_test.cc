// Tests web/work_pool.cc: results and exceptions come back to the awaiting
// coroutine on its own executor, at most `threads` calls run at once, and
// the threads take the niceness asked for.
#include "web/work_pool.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace attachgate::web {
namespace {

namespace net = boost::asio;

// Runs `body` as a coroutine on a one-thread io_context until it is done.
template <class F>
void run_coroutine(F body) {
  net::io_context ioc;
  std::exception_ptr failed;
  net::co_spawn(ioc, body(), [&failed](std::exception_ptr e) { failed = e; });
  ioc.run();
  if (failed) std::rethrow_exception(failed);
}

TEST(WorkPool, ReturnsTheResultOnTheCallersThread) {
  WorkPool pool(2);
  run_coroutine([&]() -> net::awaitable<void> {
    const auto caller = std::this_thread::get_id();
    std::thread::id ran_on;
    int got = co_await pool.run([&ran_on] {
      ran_on = std::this_thread::get_id();
      return 42;
    });
    EXPECT_EQ(got, 42);
    EXPECT_NE(ran_on, caller) << "the work ran off the I/O thread";
    EXPECT_EQ(std::this_thread::get_id(), caller) << "and the caller resumed on its own";
    co_await pool.run([] {});  // void works too
    EXPECT_EQ(pool.pending(), 0u);
  });
}

TEST(WorkPool, PassesExceptionsBack) {
  WorkPool pool(1);
  run_coroutine([&]() -> net::awaitable<void> {
    bool caught = false;
    try {
      co_await pool.run([]() -> int { throw std::runtime_error("broken"); });
    } catch (const std::runtime_error& e) {
      caught = std::string(e.what()) == "broken";
    }
    EXPECT_TRUE(caught);
  });
}

TEST(WorkPool, RunsAtMostItsThreadsAtOnce) {
  WorkPool pool(2);
  std::atomic<int> running{0}, most{0};
  net::io_context ioc;
  std::atomic<std::size_t> seen_pending{0};
  for (int i = 0; i < 8; ++i)
    net::co_spawn(ioc, [&]() -> net::awaitable<void> {
      co_await pool.run([&] {
        int now = ++running;
        for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {}
        seen_pending = std::max(seen_pending.load(), pool.pending());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        --running;
      });
    }, net::detached);
  ioc.run();
  EXPECT_EQ(most.load(), 2);
  EXPECT_GE(seen_pending.load(), 3u) << "the rest waited in the queue";
  EXPECT_EQ(pool.pending(), 0u);
}

TEST(WorkPool, LowersItsThreadsPriority) {
  WorkPool nice(1, 5), plain(1);
  run_coroutine([&]() -> net::awaitable<void> {
    auto niceness = [] {
      errno = 0;
      return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
    };
    const int base = niceness();
    EXPECT_EQ(co_await nice.run(niceness), std::min(base + 5, 19));
    EXPECT_EQ(co_await plain.run(niceness), base);
  });
}

}  // namespace
}  // namespace attachgate::web
