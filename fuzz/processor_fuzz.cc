// fuzz/processor_fuzz.cc - a whole message through the milter's end of
// message (milter::process_message): GMime parse, scan, policy, offload into
// a real store, rewrite, catalog commit.
//
// Input: an .eml (line ends become CRLF, as Postfix hands them over). The
// store lives in a temporary directory, made afresh every kFreshStoreEvery
// inputs so it stays small. The policy offloads every attachment to an
// external recipient (no access code: Argon2 would make each run slow).
// Checked beyond memory safety: a message row is recorded exactly when the
// outcome is `modified`, and a modified outcome carries a new body.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "config/policy.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/mta_text.h"
#include "milter/processor.h"
#include "tests/support/temp_dir.h"

using namespace attachgate;
using namespace attachgate::milter;

namespace {

constexpr int kFreshStoreEvery = 500;

const char* const kPolicy = R"(on_error = "tempfail"
internal_domains = ["example.org"]
[[rule]]
name = "internal-only"
recipients = "all_internal"
action = "keep"
[[rule]]
name = "everything-else"
recipients = "any_external"
action = "offload"
)";

std::string source_dir() {
  const char* d = std::getenv("ATTACHGATE_SOURCE_DIR");
  return d ? d : ATTACHGATE_SOURCE_DIR_DEFAULT;
}

struct World {
  attachgate::testing::TempDir dir;
  std::unique_ptr<store::Store> store;
  config::ServiceConfig service;
  std::shared_ptr<const config::Policy> policy;
  std::shared_ptr<const NoticeRenderer> notices;

  World() {
    auto opened = store::Store::open(dir.path() + "/state");
    FUZZ_CHECK(opened.ok(), "store: %s", opened.error().message.c_str());
    store = std::move(*opened);
    service.state_dir = dir.path() + "/state";
    service.templates_dir = source_dir() + "/templates";
    service.public_url = "https://files.example.test";
    auto loaded_notices = NoticeRenderer::load(service.templates_dir);
    FUZZ_CHECK(loaded_notices.ok(), "templates: %s", loaded_notices.error().message.c_str());
    notices = std::make_shared<const NoticeRenderer>(std::move(*loaded_notices));
    std::ofstream(dir.path() + "/policy.toml") << kPolicy;
    auto loaded = config::load_policy(dir.path() + "/policy.toml");
    FUZZ_CHECK(loaded.ok(), "policy: %s", config::format_problems(loaded.problems).c_str());
    policy = std::make_shared<const config::Policy>(*loaded.value);
  }
};

// The header fields as the MTA passes them: name, and the value after the
// colon with folds as "\n" + continuation (SMFIP_HDR_LEADSPC style).
std::vector<Header> header_fields(std::string_view crlf) {
  std::vector<Header> headers;
  const std::size_t end = crlf.find("\r\n\r\n");
  std::string_view head = crlf.substr(0, end == std::string_view::npos ? crlf.size() : end + 2);
  while (!head.empty()) {
    std::size_t eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    head = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t') && !headers.empty()) {
      headers.back().value += "\n" + std::string(line);
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) break;  // Postfix ends the header block here
    headers.push_back({std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
  }
  return headers;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::unique_ptr<World> world;
  static int runs = 0;
  if (!world || ++runs % kFreshStoreEvery == 0) {
    world.reset();
    world = std::make_unique<World>();
  }
  const std::string crlf = fuzz::to_crlf(std::string_view(reinterpret_cast<const char*>(data), size));
  Spool spool(world->dir.path() + "/spool", world->service.limits.spool_memory_threshold);
  FUZZ_CHECK(spool.append(crlf).ok(), "spool append");
  MessageInput in;
  in.envelope = {"4F2A1B3C", "alice@example.org", "", "smtpd", "192.0.2.7",
                 {"bob@example.net", "carol@example.org"}};
  in.headers = header_fields(crlf);
  in.spool = &spool;
  ProcessorContext ctx{*world->store, world->service, world->policy, world->notices, {}, 1'795'000'000};

  const std::int64_t before = world->store->catalog.count(store::CatalogTable::messages).value();
  Outcome out = process_message(in, ctx);
  const std::int64_t after = world->store->catalog.count(store::CatalogTable::messages).value();
  const bool modified = out.action == Outcome::Action::modified;
  FUZZ_CHECK(after == before + (modified ? 1 : 0), "%lld -> %lld message rows, outcome: %s",
             static_cast<long long>(before), static_cast<long long>(after), out.log.c_str());
  if (!modified) return 0;
  // With links per recipient, Carol (internal) may keep the MTA's message
  // as it came, and then Bob, who has a link, comes off it for his copy.
  if (!out.body) {
    FUZZ_CHECK(out.removed_recipients == std::vector<std::string>{"bob@example.net"},
               "modified without a body, and Bob was not taken off it: %s", out.log.c_str());
    return 0;
  }
  FUZZ_CHECK(out.body->size() > 0, "modified with an empty body");
  return 0;
}
