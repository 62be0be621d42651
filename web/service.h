// web/service.h - what the server asks of the site it serves. The server
// owns sockets, parsing, limits and threads; a Service turns requests into
// responses with no socket I/O of its own, and the server calls it on a
// work pool. Handler is the recipients' site.
#pragma once

#include <cstdint>
#include <optional>

#include "web/exchange.h"

namespace attachgate::web {

class Service {
 public:
  virtual ~Service() = default;
  // Once a request's header is read: how to take its body (see Admission).
  // Runs on a work pool: it may touch the catalog.
  virtual Admission admit(const Request& head, std::optional<std::uint64_t> content_length) = 0;
  // Runs on a work pool.
  virtual Response handle(const Request& request) = 0;
  // A response the server made itself (400, 413, 431), for /metrics.
  virtual void count_response(int status) = 0;
};

}  // namespace attachgate::web
