// tests/web/web_fixture.h - what the handler and API tests share: a real
// store in a temporary directory and the shipped page templates.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "web/handler.h"
#include "tests/support/test_catalog.h"

namespace attachgate::web {

inline std::string source_dir() {
  const char* d = std::getenv("ATTACHGATE_SOURCE_DIR");
  return d ? d : ATTACHGATE_SOURCE_DIR_DEFAULT;
}

// Opens the store and builds a Handler with `config` and a clock reading
// *now; fails the test (ASSERT) if either cannot be had.
class WebFixture : public ::testing::Test {
 protected:
  void open(HandlerConfig config, const std::int64_t* now) {
    auto s = store::Store::open(dir_.path(), "", attachgate::testing::catalog_for_state(dir_.path()));
    ASSERT_TRUE(s.ok()) << s.error().message;
    store_ = std::move(*s);
    auto pages = PageRenderer::load(source_dir() + "/templates");
    ASSERT_TRUE(pages.ok()) << pages.error().message;
    handler_ = std::make_unique<Handler>(*store_, std::make_shared<const PageRenderer>(std::move(*pages)),
                                         std::move(config), [now] { return *now; });
  }

  // handler_->handle(request), then what the server does once a response
  // with a body in memory has gone out: on_done. A download's stream is
  // left for the test to drain and finish itself.
  Response serve(const Request& request) {
    Response r = handler_->handle(request);
    if (!r.stream && r.on_done) {
      r.on_done(request.method == "HEAD" ? 0 : r.body.size());
      r.on_done = nullptr;
    }
    return r;
  }

  // A visitor's GET (or HEAD, or a Range GET) and form POST, from one address.
  Response get(const std::string& target, const std::string& method = "GET",
               const std::string& range = "") {
    Request r;
    r.method = method;
    r.target = target;
    r.range = range;
    r.remote_addr = "198.51.100.7";
    r.user_agent = "test-agent";
    return serve(r);
  }

  Response post(const std::string& target, const std::string& body) {
    Request r;
    r.method = "POST";
    r.target = target;
    r.content_type = "application/x-www-form-urlencoded";
    r.body = body;
    r.remote_addr = "198.51.100.7";
    return serve(r);
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Handler> handler_;
};

}  // namespace attachgate::web
