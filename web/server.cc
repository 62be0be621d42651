// web/server.cc - see server.h.
#include "web/server.h"

#include <atomic>
#include <type_traits>
#include <limits>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "util/log.h"
#include "web/content_headers.h"
#include "web/request_framing.h"
#include "web/work_pool.h"

namespace attachgate::web {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using net::awaitable;
using net::use_awaitable;
using boost::system::error_code;

// After refusing a request whose body is unread: how much of it to discard,
// and for how long, before closing (see linger()).
constexpr std::uint64_t kLingerBytes = 4 * 1024 * 1024;
constexpr std::chrono::seconds kLingerTime{2};

struct Server::Impl {
  ServerConfig config;
  Service& service;
  net::io_context ioc;
  net::strand<net::io_context::executor_type> accept_strand{ioc.get_executor()};
  tcp::acceptor acceptor{accept_strand};
  net::steady_timer slot_free{accept_strand};  // woken when a connection ends
  std::atomic<int> active{0};
  std::atomic<bool> stopping{false};
  // Declared after ioc, so they are destroyed first: their threads finish
  // and hand each result back to ioc while it still exists.
  WorkPool work;
  std::unique_ptr<WorkPool> code_checks;  // null: code checks use `work`

  Impl(const ServerConfig& c, Service& s)
      : config(c),
        service(s),
        ioc(c.threads),
        work(c.work_threads),
        code_checks(c.code_check_threads > 0
                        ? std::make_unique<WorkPool>(c.code_check_threads, c.code_check_nice)
                        : nullptr) {}

  awaitable<void> accept_loop();
  // service.handle(request) on its lane's pool.
  awaitable<Response> handle(const Request& request);
  awaitable<void> session(tcp::socket socket);
  awaitable<bool> write_response(beast::tcp_stream& stream, Response& response, unsigned version,
                                 bool keep_alive, bool head);
  // A body read whole into `body`, at most max_body_bytes: 0, or the
  // status to refuse it with (413, 400), or -1 if the client went away.
  awaitable<int> read_body(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                           http::request_parser<http::buffer_body>& parser, std::string& body);
  // A body streamed into an upload; nothing if the client went away.
  awaitable<std::optional<Response>> read_upload(beast::tcp_stream& stream,
                                                 beast::flat_buffer& buffer,
                                                 http::request_parser<http::buffer_body>& parser,
                                                 UploadSink& sink);
  awaitable<void> linger(beast::tcp_stream& stream);
  void connection_ended();
};

Result<std::pair<std::string, unsigned short>> split_listen_address(const std::string& listen) {
  std::string host, port;
  if (!listen.empty() && listen.front() == '[') {
    auto close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':')
      return make_error("listen address " + listen + ": expected [v6-address]:port");
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
  } else {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) return make_error("listen address " + listen + ": expected host:port");
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535)
    return make_error("listen address " + listen + ": bad port '" + port + "'");
  return std::make_pair(host, static_cast<unsigned short>(std::stoul(port)));
}

Result<std::unique_ptr<Server>> Server::bind(const ServerConfig& config, Service& service) {
  auto where = split_listen_address(config.listen);
  if (!where) return where.error();
  auto impl = std::make_unique<Impl>(config, service);
  error_code ec;
  auto address = net::ip::make_address(where->first, ec);
  if (ec) return make_error("listen address " + config.listen + ": '" + where->first + "' is not an IP address");
  tcp::endpoint endpoint(address, where->second);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return make_error("cannot listen on " + config.listen + ": " + ec.message());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

std::string Server::local_address() const {
  error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return "";
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

int Server::active_connections() const { return impl_->active.load(); }

void Server::run() {
  net::co_spawn(impl_->accept_strand, impl_->accept_loop(), net::detached);
  std::vector<std::thread> threads;
  for (int i = 1; i < impl_->config.threads; ++i) threads.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : threads) t.join();
}

void Server::stop(std::chrono::seconds grace) {
  Impl* impl = impl_.get();
  net::post(impl->accept_strand, [impl, grace] {
    impl->stopping = true;
    error_code ignored;
    impl->acceptor.close(ignored);
    impl->slot_free.cancel();
    // Wait for the connections in progress, checking every 100 ms.
    auto deadline = std::chrono::steady_clock::now() + grace;
    auto timer = std::make_shared<net::steady_timer>(impl->accept_strand);
    auto check = std::make_shared<std::function<void()>>();
    *check = [impl, deadline, timer, check] {
      if (impl->active == 0 || std::chrono::steady_clock::now() >= deadline) {
        impl->ioc.stop();
        *check = nullptr;  // break the cycle
        return;
      }
      timer->expires_after(std::chrono::milliseconds(100));
      timer->async_wait([check](error_code) { if (*check) (*check)(); });
    };
    (*check)();
  });
}

void Server::Impl::connection_ended() {
  --active;
  net::post(accept_strand, [this] { slot_free.cancel(); });
}

awaitable<void> Server::Impl::accept_loop() {
  while (!stopping) {
    if (active >= config.max_connections) {
      // Full: leave the next ones in the kernel's queue until a slot frees.
      slot_free.expires_after(std::chrono::seconds(1));
      error_code ignored;
      co_await slot_free.async_wait(net::redirect_error(use_awaitable, ignored));
      continue;
    }
    error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(net::make_strand(ioc),
                                                        net::redirect_error(use_awaitable, ec));
    if (ec) {
      if (stopping) break;
      // Out of descriptors or memory: log, pause, keep serving.
      log_warn("accept: " + ec.message());
      net::steady_timer pause(accept_strand, std::chrono::milliseconds(100));
      co_await pause.async_wait(net::redirect_error(use_awaitable, ec));
      continue;
    }
    // A response goes out as a header write then a body write; with Nagle
    // the second waits for the client's delayed ACK of the first (40 ms).
    socket.set_option(tcp::no_delay(true), ec);
    ++active;
    auto executor = socket.get_executor();
    net::co_spawn(executor, session(std::move(socket)), [this](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log_warn(std::string("connection: ") + ex.what());
        }
      }
      connection_ended();
    });
  }
}

namespace {

using RequestParser = http::request_parser<http::buffer_body>;

// The request as the handler sees it, from the header alone; a body the
// handler reads whole is added later.
Request to_request(const RequestParser::value_type& req, const std::string& remote) {
  Request r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  r.content_type = std::string(req[http::field::content_type]);
  r.range = std::string(req[http::field::range]);
  r.if_range = std::string(req[http::field::if_range]);
  r.user_agent = std::string(req[http::field::user_agent]);
  r.api_key = std::string(req["X-API-Key"]);
  r.remote_addr = remote;
  return r;
}

// A response for a request the parser refused; the connection closes after it.
Response refusal(int status, const char* text) {
  Response r;
  r.status = status;
  r.headers = security_headers();
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  r.body = std::string(text) + "\n";
  return r;
}

// What request_framing.h checks, from the parsed header.
int framing_refusal(const RequestParser::value_type& req) {
  RequestFraming f;
  f.version = req.version();
  for (auto [it, end] = req.equal_range(http::field::transfer_encoding); it != end; ++it)
    f.transfer_encoding.push_back(std::string_view(it->value().data(), it->value().size()));
  f.content_length_fields = req.count(http::field::content_length);
  f.host_fields = req.count(http::field::host);
  return framing_refusal(f);
}

bool quiet_close(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == beast::error::timeout ||
         ec == net::error::connection_reset || ec == net::error::eof;
}

}  // namespace

awaitable<bool> Server::Impl::write_response(beast::tcp_stream& stream, Response& response,
                                             unsigned version, bool keep_alive, bool head) {
  error_code ec;
  http::response<http::empty_body> header{static_cast<http::status>(response.status), version};
  for (const auto& [name, value] : response.headers) header.set(name, value);
  header.set(http::field::server, "attachgate");
  header.keep_alive(keep_alive);
  // 204 and 304 carry no body and must not say how long it is.
  if (response.status != 204 && response.status != 304)
    header.content_length(response.stream || (head && response.body.empty()) ? response.length
                                                                             : response.body.size());
  http::response_serializer<http::empty_body> serializer{header};
  stream.expires_after(config.timeout);
  co_await http::async_write_header(stream, serializer, net::redirect_error(use_awaitable, ec));
  if (ec) {
    if (response.on_done) co_await work.run([&response] { response.on_done(0); });
    co_return false;
  }
  if (head) {
    if (response.on_done) co_await work.run([&response] { response.on_done(0); });
    co_return true;
  }
  if (!response.stream) {
    stream.expires_after(config.timeout);
    co_await net::async_write(stream, net::buffer(response.body), net::redirect_error(use_awaitable, ec));
    const std::uint64_t sent = ec ? 0 : response.body.size();
    if (response.on_done) co_await work.run([&response, sent] { response.on_done(sent); });
    co_return !ec;
  }
  // The download: pull a chunk, write it, repeat; one chunk in memory.
  std::vector<char> chunk(config.chunk_bytes);
  std::uint64_t sent = 0;
  bool intact = true;
  while (sent < response.length) {
    std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), response.length - sent));
    // Reading decrypts (and may wait for the disk): off the I/O thread.
    auto got = co_await work.run([&response, &chunk, want] { return response.stream->read(chunk.data(), want); });
    if (!got || *got == 0) {
      log_warn("download cut short: " + (got ? std::string("source ended early") : got.error().message));
      intact = false;
      break;
    }
    stream.expires_after(config.timeout);
    co_await net::async_write(stream, net::buffer(chunk.data(), *got), net::redirect_error(use_awaitable, ec));
    if (ec) {
      intact = false;
      break;
    }
    sent += *got;
  }
  if (response.on_done) co_await work.run([&response, sent] { response.on_done(sent); });
  co_return intact;
}

awaitable<void> Server::Impl::session(tcp::socket socket) {
  error_code ec;
  std::string remote;
  auto peer = socket.remote_endpoint(ec);
  if (!ec) remote = peer.address().to_string();
  beast::tcp_stream stream(std::move(socket));
  // Its limit must leave room for a whole header block of max_header_bytes,
  // or a header the parser would take (or refuse with 431) overflows first.
  beast::flat_buffer buffer(static_cast<std::size_t>(config.max_header_bytes) + 8192);
  for (;;) {
    // The header first: the handler decides how the body is taken (read
    // whole under max_body_bytes, streamed into an upload, or not at all).
    RequestParser parser;
    parser.header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
    // Bounded below, per kind of body. (Not boost::none: Boost 1.74 compares
    // a Content-Length against an empty limit as "over".)
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    stream.expires_after(config.timeout);
    co_await http::async_read_header(stream, buffer, parser, net::redirect_error(use_awaitable, ec));
    if (ec) {
      if (quiet_close(ec) || (buffer.size() == 0 && ec != http::error::header_limit))
        break;  // closed, reset or idle: nothing to answer
      Response refused = ec == http::error::header_limit ? refusal(431, "Request header too large")
                                                         : refusal(400, "Bad request");
      service.count_response(refused.status);
      co_await write_response(stream, refused, 11, false, false);
      break;
    }
    auto& req = parser.get();
    // A body we cannot delimit as every hop before us does: answer, close,
    // and never read what follows as another request.
    if (const int refused = framing_refusal(req); refused != 0) {
      Response r = refused == 501 ? refusal(501, "Transfer coding not implemented")
                                  : refusal(400, "Bad request");
      service.count_response(r.status);
      co_await write_response(stream, r, req.version(), false, false);
      co_await linger(stream);
      co_return;
    }
    Request request = to_request(req, remote);
    std::optional<std::uint64_t> length;
    if (auto l = parser.content_length()) length = *l;
    Admission admission = co_await work.run([this, &request, length] { return service.admit(request, length); });
    Response response;
    if (admission.answer) {
      response = std::move(*admission.answer);
      service.count_response(response.status);
    } else if (admission.upload) {
      auto taken = co_await read_upload(stream, buffer, parser, *admission.upload);
      if (!taken) break;  // the client went away: nothing to answer
      response = std::move(*taken);
      service.count_response(response.status);
    } else {
      const int refused = co_await read_body(stream, buffer, parser, request.body);
      if (refused < 0) break;  // the client went away
      if (refused > 0) {
        response = refused == 413 ? refusal(413, "Request body too large") : refusal(400, "Bad request");
        service.count_response(response.status);
      } else {
        response = co_await handle(request);
      }
    }
    // A body left unread (refused, or not wanted) ends the connection.
    const bool body_read = parser.is_done();
    const bool keep_alive = body_read && req.keep_alive() && !stopping;
    const bool head = req.method() == http::verb::head;
    bool ok = co_await write_response(stream, response, req.version(), keep_alive, head);
    // Letting go of a download's stream or completion can end its transfer
    // in the catalog (transfer_lease.h): off the I/O thread as well.
    if (response.stream || response.on_done)
      co_await work.run([&response] {
        response.stream.reset();
        response.on_done = nullptr;
      });
    if (!body_read) {
      co_await linger(stream);
      co_return;
    }
    if (!ok || !keep_alive) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

awaitable<Response> Server::Impl::handle(const Request& request) {
  if (code_checks && service.lane(request) == Lane::code_check) {
    if (code_checks->pending() >= config.max_queued_code_checks) {
      // Unchecked, so not counted against the link: come back shortly.
      Response busy = refusal(503, "Too many access codes are being checked; try again shortly");
      busy.headers.emplace_back("Retry-After", "5");
      service.count_response(busy.status);
      co_return busy;
    }
    co_return co_await code_checks->run([this, &request] { return service.handle(request); });
  }
  co_return co_await work.run([this, &request] { return service.handle(request); });
}

awaitable<int> Server::Impl::read_body(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                       http::request_parser<http::buffer_body>& parser,
                                       std::string& body) {
  if (auto l = parser.content_length(); l && *l > config.max_body_bytes) co_return 413;
  char chunk[4096];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    error_code ec;
    stream.expires_after(config.timeout);
    co_await http::async_read(stream, buffer, parser, net::redirect_error(use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) co_return quiet_close(ec) ? -1 : 400;
    body.append(chunk, sizeof chunk - parser.get().body().size);
    if (body.size() > config.max_body_bytes) co_return 413;
  }
  co_return 0;
}

awaitable<std::optional<Response>> Server::Impl::read_upload(
    beast::tcp_stream& stream, beast::flat_buffer& buffer,
    http::request_parser<http::buffer_body>& parser, UploadSink& sink) {
  auto& req = parser.get();
  if (req.version() >= 11 && beast::iequals(req[http::field::expect], "100-continue") &&
      !parser.is_done()) {
    // The client waits for this before it sends a large body.
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    error_code ec;
    stream.expires_after(config.timeout);
    co_await net::async_write(stream, net::buffer(kContinue.data(), kContinue.size()),
                              net::redirect_error(use_awaitable, ec));
    if (ec) co_return std::nullopt;
  }
  std::vector<char> chunk(config.chunk_bytes);
  while (!parser.is_done()) {
    req.body().data = chunk.data();
    req.body().size = chunk.size();
    error_code ec;
    stream.expires_after(config.timeout);
    co_await http::async_read(stream, buffer, parser, net::redirect_error(use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      // The sink, dropped, leaves nothing behind. The path only: a query
      // may hold an access code.
      const std::string target(req.target());
      const std::string path = target.substr(0, std::min<std::size_t>(target.find('?'), 80));
      log_warn("upload to " + path + " cut off: " + ec.message());
      if (quiet_close(ec)) co_return std::nullopt;
      co_return refusal(400, "Bad request");  // malformed chunking and the like
    }
    const std::size_t got = chunk.size() - req.body().size;
    if (got == 0) continue;
    auto refused = co_await work.run([&sink, &chunk, got] { return sink.write(chunk.data(), got); });
    if (refused) co_return refused;
  }
  co_return co_await work.run([&sink] { return sink.finish(); });
}

awaitable<void> Server::Impl::linger(beast::tcp_stream& stream) {
  // Closing with unread request bytes makes the kernel send a reset, which
  // can destroy the answer before the client reads it. So: stop sending,
  // then read and discard what the client still sends, for a short while.
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  std::vector<char> sink(64 * 1024);
  std::uint64_t discarded = 0;
  stream.expires_after(kLingerTime);  // in all, however the client trickles
  while (!ec && discarded < kLingerBytes) {
    std::size_t n = co_await stream.async_read_some(net::buffer(sink), net::redirect_error(use_awaitable, ec));
    discarded += n;
  }
}

}  // namespace attachgate::web
