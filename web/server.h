// web/server.h - the HTTP server: Boost.Beast on Asio, one C++20 coroutine
// per connection, request handling delegated to a Service (handler.h).
//
// Everything from the network is bounded: each read and write has the
// configured timeout (a client that stalls is cut off), request headers and
// bodies have size limits (431 and 413), a body whose length cannot be
// told is refused and its connection closed (request_framing.h), and at most
// max_connections are served at once; more wait in the kernel's accept
// queue. Download bodies are pulled from their ByteSource in fixed chunks,
// so memory does not grow with file size.
//
// The I/O threads only do I/O. The Service's work (catalog calls, page
// rendering, decrypting download chunks, storing uploads) runs on a bounded
// WorkPool, and access-code checks on a second, smaller one at a lower
// priority; the connection's coroutine co_awaits the result. A flood of code
// checks therefore queues in its own pool and leaves pages, downloads and
// /healthz their threads and a core; past max_queued_code_checks waiting,
// a code check is answered 503 with Retry-After at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "util/result.h"
#include "web/service.h"

namespace attachgate::web {

struct ServerConfig {
  std::string listen = "127.0.0.1:8025";  // host:port or [v6]:port
  int max_connections = 1024;
  std::chrono::seconds timeout{30};
  std::uint64_t max_header_bytes = 16 * 1024;
  std::uint64_t max_body_bytes = 16 * 1024;  // forms; uploads are the API's own limit
  int threads = 4;                // I/O threads
  int work_threads = 4;           // catalog, pages, decryption, uploads
  int code_check_threads = 1;     // access-code checks (Argon2id); 0: use the work pool
  int code_check_nice = 10;       // added to those threads' niceness
  // Code checks waiting past this get 503 at once. Generous: a burst of
  // guesses at one link should reach its attempt counter and get 429 (a
  // paused link answers in microseconds), not bounce off the queue.
  std::size_t max_queued_code_checks = 256;
  std::size_t chunk_bytes = 64 * 1024;
};

class Server {
 public:
  // Binds and listens now, so a taken port is reported before run().
  static Result<std::unique_ptr<Server>> bind(const ServerConfig& config, Service& service);
  ~Server();

  // Serves until stop(); returns once every thread is done.
  void run();
  // From any thread: stop accepting, let requests in progress finish for up
  // to `grace`, then close the rest.
  void stop(std::chrono::seconds grace = std::chrono::seconds(10));
  // The bound address, "127.0.0.1:8025" (useful with port 0).
  std::string local_address() const;
  int active_connections() const;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "host:port" / "[v6]:port" into its parts; an Error says what is wrong.
Result<std::pair<std::string, unsigned short>> split_listen_address(const std::string& listen);

}  // namespace attachgate::web
