// web/metrics_site.cc - see metrics_site.h.
#include "web/metrics_site.h"

#include "web/content_headers.h"

namespace attachgate::web {
namespace {

Response plain(int status, std::string text) {
  Response r;
  r.status = status;
  r.headers = security_headers();
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(text);
  return r;
}

}  // namespace

Response MetricsSite::handle(const Request& request) {
  std::string_view path = request.target;
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (path != "/metrics") return plain(404, "Not found; the metrics are at /metrics\n");
  if (request.method != "GET" && request.method != "HEAD") {
    Response r = plain(405, "Method not allowed\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  return handler_.metrics_page();
}

}  // namespace attachgate::web
