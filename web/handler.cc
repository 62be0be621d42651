// web/handler.cc - routing and the small routes: pixel, health, stylesheet,
// and the pages every route shares. The link and download routes are in
// link_routes.cc and download_routes.cc.
#include "web/handler.h"

#include <chrono>

#include "util/text.h"
#include "web/content_headers.h"
#include "web/form.h"
#include "web/handler_internal.h"

namespace attachgate::web {
namespace {

// The smallest transparent GIF: 1x1, one colour, transparent index 0.
constexpr unsigned char kPixel[] = {
    'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff,
    0x21, 0xf9, 4, 1, 0, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3b};

}  // namespace

const std::string* Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (equals_nocase(k, name)) return &v;
  return nullptr;
}

Handler::Handler(store::StoreFor<store::WebCatalog> store,
                 std::shared_ptr<const PageRenderer> pages, HandlerConfig config, Clock clock)
    : store_(store),
      pages_(std::move(pages)),
      config_(config),
      clock_(clock ? std::move(clock) : Clock([] {
        return static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
      })),
      api_(store, config_.api, clock_) {}

Admission Handler::admit(const Request& head, std::optional<std::uint64_t> content_length) {
  std::string_view path = head.target;
  if (path == "/api" || path.starts_with("/api/") || path.starts_with("/api?"))
    return api_.admit(head, content_length);
  return {};
}

void Handler::set_pages(std::shared_ptr<const PageRenderer> pages) {
  std::lock_guard lock(pages_mu_);
  pages_ = std::move(pages);
}

std::shared_ptr<const PageRenderer> Handler::pages() const {
  std::lock_guard lock(pages_mu_);
  return pages_;
}

Lane Handler::lane(const Request& request) const {
  if (request.method != "POST") return Lane::general;
  std::string_view path = request.target;
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (!route_tail(path, "/d/")) return Lane::general;
  auto form = parse_form(request.body);
  const std::string* code = form ? form->get("code") : nullptr;
  return code != nullptr && !code->empty() ? Lane::code_check : Lane::general;
}

Response Handler::handle(const Request& request) {
  Response r = route(request);
  count_response(r.status);
  return r;
}

Response Handler::route(const Request& request) {
  std::string_view path = request.target;
  if (path.size() > 512) return not_found();
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  const bool get = request.method == "GET" || request.method == "HEAD";
  const bool post = request.method == "POST";
  auto allow = [&](bool ok, const char* methods) -> std::optional<Response> {
    if (ok) return std::nullopt;
    Response r = problem(405, "Method not allowed", "This address does not take that request.");
    r.headers.emplace_back("Allow", methods);
    return r;
  };

  if (auto token = route_tail(path, "/d/")) {
    if (auto bad = allow(get || post, "GET, HEAD, POST")) return std::move(*bad);
    return post ? post_link(request, *token) : landing(request, *token);
  }
  if (auto ticket_id = route_tail(path, "/t/")) {
    if (auto bad = allow(get, "GET, HEAD")) return std::move(*bad);
    return ticket(request, *ticket_id);
  }
  if (auto status = route_tail(path, "/s/")) {
    if (auto bad = allow(get || post, "GET, HEAD, POST")) return std::move(*bad);
    return post ? post_status(request, *status) : status_page(*status);
  }
  if (auto gif = route_tail(path, "/o/")) {
    if (auto bad = allow(get, "GET, HEAD")) return std::move(*bad);
    return pixel(request, *gif);
  }
  if (path == "/healthz") {
    if (auto bad = allow(get, "GET, HEAD")) return std::move(*bad);
    return healthz();
  }
  if (path == "/static/style.css") {
    if (auto bad = allow(get, "GET, HEAD")) return std::move(*bad);
    Response r;
    r.headers = security_headers();
    r.headers.emplace_back("Content-Type", "text/css; charset=utf-8");
    r.body = pages()->stylesheet();
    return r;
  }
  return not_found();
}

Response Handler::pixel(const Request& request, std::string_view name) {
  // Whatever the id, the answer is the same image: the pixel tells a
  // stranger nothing about which ids exist.
  constexpr std::string_view kSuffix = ".gif";
  Response r;
  r.headers = security_headers();
  r.headers.emplace_back("Content-Type", "image/gif");
  r.body.assign(reinterpret_cast<const char*>(kPixel), sizeof kPixel);
  if (request.method == "GET" && name.size() == 32 + kSuffix.size() && name.ends_with(kSuffix) &&
      is_lower_hex(name.substr(0, 32))) {
    auto link = store_.catalog.find_link_by_pixel(std::string(name.substr(0, 32)));
    if (!link) log_warn("pixel: " + link.error().message);
    else if (*link && (*link)->track_opens)
      record_when_sent(r, store::EventKind::opened, request, (*link)->message_id, via(**link));
  }
  return r;
}

Response Handler::healthz() {
  Response r;
  r.headers = security_headers();
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  if (auto answered = store_.catalog.ping(); !answered) {
    log_warn("healthz: " + answered.error().message);
    r.status = 503;
    r.body = "catalog unavailable\n";
  } else {
    r.body = "ok\n";
  }
  return r;
}

store::EventRecord Handler::event_of(store::EventKind kind, const Request& request,
                                    std::int64_t message_id, const Via& link,
                                    std::optional<std::int64_t> file_id, std::string detail) const {
  store::EventRecord e;
  e.message_id = message_id;
  e.link_id = link.link_id;
  e.recipient = link.recipient.value_or("");
  e.file_id = file_id;
  e.kind = kind;
  e.at = clock_();
  e.remote_addr = clean_display_text(request.remote_addr, 64);
  e.user_agent = clean_display_text(request.user_agent, 256);
  e.detail = std::move(detail);
  return e;
}

namespace {

// An event that cannot be written is logged, not shown to the visitor:
// the audit trail is ours to mend, the download is theirs.
void write_event(store::WebCatalog& catalog, const store::EventRecord& e) {
  if (auto s = catalog.add_event(e); !s)
    log_warn("event " + std::string(to_string(e.kind)) + ": " + s.error().message);
}

}  // namespace

void Handler::record(store::EventKind kind, const Request& request, std::int64_t message_id,
                     const Via& link, std::optional<std::int64_t> file_id, std::string detail) {
  write_event(store_.catalog, event_of(kind, request, message_id, link, file_id, std::move(detail)));
}

void Handler::record_when_sent(Response& response, store::EventKind kind, const Request& request,
                               std::int64_t message_id, const Via& link) {
  auto before = std::move(response.on_done);
  response.on_done = [&catalog = store_.catalog, before = std::move(before),
                      e = event_of(kind, request, message_id, link, std::nullopt, "")](
                         std::uint64_t sent) {
    if (before) before(sent);
    write_event(catalog, e);
  };
}

Response Handler::page(int status, std::string html) {
  Response r;
  r.status = status;
  r.headers = security_headers();
  r.headers.emplace_back("Content-Type", "text/html; charset=utf-8");
  r.body = std::move(html);
  return r;
}

Response Handler::not_found() { return page(404, pages()->not_found()); }

Response Handler::problem(int status, std::string title, std::string detail) {
  return page(status, pages()->problem(ProblemPage{std::move(title), std::move(detail)}));
}

Response Handler::gone_page(std::string_view why) {
  GonePage g;
  if (why == "expired") {
    g.title = "This link has expired";
    g.detail = "The files behind it were available for a limited time, which is over.";
  } else if (why == "revoked") {
    g.title = "This link was withdrawn";
    g.detail = "The sender or the mail administrator has revoked it.";
  } else if (why == "locked") {
    g.title = "This link is locked";
    g.detail = "Too many wrong access codes were entered, so it no longer opens.";
  } else if (why == "resume over") {
    g.title = "This download can no longer be resumed";
    g.detail = "The time to finish an interrupted download is over.";
  } else if (why == "missing") {
    g.title = "This file is no longer available";
    g.detail = "The server no longer has the stored copy. Please ask the sender to send it again.";
  } else if (why == "finished") {
    g.title = "This download is finished";
    g.detail = "The file was downloaded in full with this address already.";
  } else {
    g.title = "These files were already downloaded";
    g.detail = "The link allowed a limited number of downloads, and none are left.";
  }
  return page(410, pages()->gone(g));
}

}  // namespace attachgate::web
