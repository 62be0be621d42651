// web/web_metrics.h - what the web role counts itself: responses by HTTP
// status, and downloads by how the transfer ended. The milter's numbers
// and the catalog's gauges are added when /metrics is asked for
// (metrics_route.cc). Label values are ours (a status code, an outcome).
#pragma once

#include "util/metrics.h"

namespace attachgate::web {

struct WebMetrics {
  LabeledCounter responses;  // by status code, "200"
  // complete: the last byte reached the client; part: a Range request
  // served in full but not to the end of the file; interrupted: the
  // connection ended early.
  LabeledCounter downloads{{"complete", "interrupted", "part"}};
};

}  // namespace attachgate::web
