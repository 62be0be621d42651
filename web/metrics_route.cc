// web/metrics_route.cc - GET /metrics: Prometheus text format (0.0.4).
//
// Three sources in one answer: what this process counted (responses,
// downloads), what the milter process last wrote to its metrics file, and
// gauges read from the catalog now (files stored, outbox queue depth). Only
// counts, sizes and times: no address, name or token. The numbers still say
// how busy the gateway is, so the route is meant for the monitoring host;
// README says to keep it from the public at the proxy.
#include "util/metrics_file.h"
#include "web/content_headers.h"
#include "web/handler_internal.h"

namespace attachgate::web {

Response Handler::metrics_page() {
  Exposition e;
  e.counter("attachgate_http_responses_total", "HTTP responses sent by the web server, by status.",
            "code", metrics_.responses.values());
  e.counter("attachgate_downloads_total",
            "Download transfers by how they ended: complete, interrupted, or part (a Range "
            "request served that did not reach the end of the file).",
            "outcome", metrics_.downloads.values());
  // Which back ends this node runs on; the gauges below count what the
  // catalog holds, which is the same seen from every node that shares it.
  e.gauge("attachgate_catalog_backend_info", "The catalog's engine (1 for the one in use).",
          "engine", {{std::string(store::to_string(store_.catalog.engine())), 1}});
  e.gauge("attachgate_blob_backend_info", "The blob store's kind (1 for the one in use).",
          "kind", {{std::string(to_string(store_.blobs.kind())), 1}});
  // A catalog that cannot answer leaves its gauges out rather than report a
  // false 0; the scrape itself still succeeds.
  if (auto stored = store_.catalog.stored_totals(); stored) {
    e.gauge("attachgate_stored_files", "Files held in the blob store now.",
            static_cast<double>(stored->files));
    e.gauge("attachgate_stored_bytes", "Size of the files held in the blob store now (plaintext bytes).",
            static_cast<double>(stored->bytes));
  } else {
    log_warn("metrics: " + stored.error().message);
  }
  Exposition::Samples depth;
  using store::OutboxKind;
  for (OutboxKind kind : store::kOutboxKinds) {
    auto n = store_.catalog.outbox_depth(kind);
    if (!n) {
      log_warn("metrics: " + n.error().message);
      break;
    }
    depth.emplace_back(std::string(store::to_string(kind)), static_cast<double>(*n));
  }
  if (depth.size() == std::size(store::kOutboxKinds))
    e.gauge("attachgate_outbox_depth",
            "Receipts, download notices, webhooks and recipient copies waiting to be sent (not "
            "given up).", "kind",
            depth);

  Response r;
  r.headers = security_headers();
  r.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  r.body = e.text();
  if (!config_.milter_metrics_file.empty())
    if (auto milter = read_metrics_file(config_.milter_metrics_file)) r.body += *milter;
  return r;
}

}  // namespace attachgate::web
