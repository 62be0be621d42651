// web/metrics_site.h - what the metrics listener ([metrics] listen) serves:
// GET /metrics from the recipients' Handler, and 404 for anything else.
//
// The numbers (responses by status, wrong access codes, queue depths) are
// for the monitoring host, not for whoever holds a download link, so they
// have their own listener, on loopback by default, and the public port
// answers /metrics with 404. Requests here are not counted in the metrics.
#pragma once

#include "web/handler.h"
#include "web/service.h"

namespace attachgate::web {

class MetricsSite : public Service {
 public:
  explicit MetricsSite(Handler& handler) : handler_(handler) {}
  Admission admit(const Request&, std::optional<std::uint64_t>) override { return {}; }
  Response handle(const Request& request) override;
  void count_response(int) override {}

 private:
  Handler& handler_;
};

}  // namespace attachgate::web
