// web/handler.h - request handling as a plain function: request in,
// response out, no sockets.
//
// Everything a request carries is untrusted: the target, the form fields,
// the Range header. Tokens and ids from the URL are bounded and checked for
// shape, then hashed or looked up as values; no file path is ever built
// from them. A GET or HEAD never consumes a download; only a POST claims,
// and the claim's ticket then serves the bytes (resumable with Range until
// the grace time ends). The catalog is the only state, so the same handler
// runs in any number of threads and processes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/catalog_roles.h"
#include "store/store.h"
#include "web/api.h"
#include "web/exchange.h"
#include "web/pages.h"
#include "web/service.h"
#include "web/web_metrics.h"

namespace attachgate::web {

struct HandlerConfig {
  std::int64_t resume_grace_seconds = 3600;  // a claimed download may be resumed this long
  // A ticket's transfer holds it this long, renewed while it sends; after a
  // crash the recipient can resume once it has run out.
  std::int64_t transfer_lease_seconds = 60;
  store::CodeLimits code_limits;
  std::size_t max_form_bytes = 16 * 1024;
  // The milter's metrics file, appended to GET /metrics; empty: none.
  std::string milter_metrics_file;
  ApiConfig api;
};

// The recipients' site: landing pages, downloads, the pixel, the sender's
// status page and the API. /metrics is served by the metrics listener
// (metrics_site.h), not here.
class Handler : public Service {
 public:
  using Clock = std::function<std::int64_t()>;
  Handler(store::StoreFor<store::WebCatalog> store, std::shared_ptr<const PageRenderer> pages,
          HandlerConfig config, Clock clock = {});

  // Once a request's header is read: how to take its body (see Admission).
  // The API's routes answer here; every other request goes on to handle().
  Admission admit(const Request& head, std::optional<std::uint64_t> content_length) override;
  // A POST to a landing page that carries an access code is a code check.
  Lane lane(const Request& request) const override;
  Response handle(const Request& request) override;
  // A response the server made itself (400, 413, 431, 503), for /metrics.
  void count_response(int status) override { metrics_.responses.add(std::to_string(status)); }
  // GET /metrics: Prometheus text (metrics_route.cc).
  Response metrics_page();
  // Templates reloaded (SIGHUP): later requests use the new pages.
  void set_pages(std::shared_ptr<const PageRenderer> pages);

 private:
  struct Link;  // a link found by token, with its files and message
  std::shared_ptr<const PageRenderer> pages() const;
  Response route(const Request& request);
  Response landing(const Request& request, std::string_view token);
  Response post_link(const Request& request, std::string_view token);
  Response code_paused(std::int64_t until);  // 429 while wrong codes pause the link
  Response claim(const Request& request, const Link& link, const std::string& which,
                 const std::string& code);
  Response ticket(const Request& request, std::string_view ticket);
  Response transfer_busy();  // 409: the ticket's one transfer is running
  Response pixel(const Request& request, std::string_view pixel_id);
  Response healthz();
  // The sender's status page and notices (sender_routes.cc).
  Response status_page(std::string_view token);
  Response post_status(const Request& request, std::string_view token);
  Response see_status(std::string_view token);
  Result<std::optional<store::MessageDetail>> find_status(std::string_view token);
  std::string status_csrf(std::string_view token) const;

  Result<std::optional<Link>> find_link(std::string_view token);
  Response show_link(const Link& link, const std::string& code, const std::string& message,
                     int status);
  Response gone_page(std::string_view why);
  Response page(int status, std::string html);
  Response not_found();
  Response problem(int status, std::string title, std::string detail);
  // The link an event came through. Its recipient goes on the event, so
  // each recipient's trail is their own (none: the link all share).
  struct Via {
    std::int64_t link_id = 0;
    std::optional<std::string> recipient;
  };
  static Via via(const store::LinkRecord& link) { return {link.id, link.recipient}; }
  // The sender's download notice (policy download_notice): with "first",
  // for a recipient's own link its first completed download, for a shared
  // link the message's first. Names the recipient when the link has one.
  void queue_download_notice(std::int64_t message_id, const Via& link,
                             const std::vector<std::string>& file_ids, const Request& who);
  store::EventRecord event_of(store::EventKind kind, const Request& request,
                              std::int64_t message_id, const Via& link,
                              std::optional<std::int64_t> file_id, std::string detail) const;
  void record(store::EventKind kind, const Request& request, std::int64_t message_id,
              const Via& link, std::optional<std::int64_t> file_id, std::string detail);
  // `viewed` and `opened` only record interest: they are written once the
  // response has gone out (Response::on_done), so no visitor waits for the
  // catalog's write lock, which a download claim holds through its fsync.
  void record_when_sent(Response& response, store::EventKind kind, const Request& request,
                        std::int64_t message_id, const Via& link);

  store::StoreFor<store::WebCatalog> store_;
  mutable std::mutex pages_mu_;
  std::shared_ptr<const PageRenderer> pages_;
  HandlerConfig config_;
  Clock clock_;
  WebMetrics metrics_;
  Api api_;
};

}  // namespace attachgate::web
