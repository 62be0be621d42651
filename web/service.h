// web/service.h - what the server asks of the site it serves. The server
// owns sockets, parsing, limits and threads; a Service turns requests into
// responses with no I/O of its own. Handler is the recipients' site; the
// metrics listener serves a second, smaller one (metrics_site.h).
#pragma once

#include <cstdint>
#include <optional>

#include "web/exchange.h"

namespace attachgate::web {

// Which of the server's work pools runs a request's handling. Most is short
// (a SQLite read, a page from a template). Checking an access code costs
// tens of milliseconds of CPU (Argon2id), so it gets its own smaller,
// lower-priority pool: a flood of code checks queues there, not in front of
// everyone else's pages.
enum class Lane { general, code_check };

class Service {
 public:
  virtual ~Service() = default;
  // Once a request's header is read: how to take its body (see Admission).
  // Runs on a work pool: it may touch the catalog.
  virtual Admission admit(const Request& head, std::optional<std::uint64_t> content_length) = 0;
  // The pool for handle(); decided from the request alone, without I/O.
  virtual Lane lane(const Request&) const { return Lane::general; }
  // Runs on the lane's pool.
  virtual Response handle(const Request& request) = 0;
  // A response the server made itself (400, 413, 431, 503), for /metrics.
  virtual void count_response(int status) = 0;
};

}  // namespace attachgate::web
