// bench/growth_commit.cc - times the milter's catalog write for one
// offloaded message, as bench/growth.py's figure for "the offload commit".
//
//   growth_commit STATE_DIR COUNT [--catalog URL] [--password-file FILE]
//
// Each round is what milter/processor.cc and callbacks.cc ask of their
// MilterCatalog for a message with one file to two external recipients
// (a link each) and a receipt: record_offload (one transaction: message,
// recipients, file, links, the offloaded event, the held receipt, sealed),
// then release_outbox once the MTA has the mail. Blobs are not written:
// that is the blob store's cost, which the catalog's size does not change.
// Every tenth round also times the milter's undo of such an offload (the
// mail never left): record_offload, then remove_message alone.
// Prints {"seconds": [per round], "record": [...], "release": [...],
// "undo": [remove_message per tenth round]}.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/catalog_roles.h"
#include "store/secrets.h"
#include "store/store.h"

namespace {

using namespace attachgate;
using Clock = std::chrono::steady_clock;

int fail(const std::string& what) {
  std::fprintf(stderr, "growth_commit: %s\n", what.c_str());
  return 1;
}

store::Offload offload(const store::TokenHasher& tokens, int round, std::int64_t now) {
  store::Offload o;
  o.public_id = store::new_public_id();
  o.now = now;
  o.message.queue_id = "C" + store::new_public_id(5);
  o.message.sender = "alice@example.org";
  o.message.subject = "growth commit " + std::to_string(round);
  o.message.header_message_id = "<" + o.public_id + ".commit@example.org>";
  o.message.recipients = {"bob@example.net", "carol@example.com"};
  store::BlobInfo blob{store::new_public_id(16), 2'000'000, std::string(64, 'a')};
  o.files.push_back({"figures.pdf", "application/pdf", blob});
  for (const auto& r : o.message.recipients) {
    store::NewLink l;
    l.token_hash = tokens.hash(store::new_token());
    l.pixel_id = store::new_public_id(16);
    l.recipient = r;
    l.expires_at = now + 7 * 86400;
    o.links.push_back(l);
  }
  o.status_token_hash = tokens.hash(store::new_token());
  o.outbox.push_back({store::OutboxKind::receipt, std::nullopt, o.message.sender,
                      R"({"status":"x","code":""})", now, true});
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc % 2 == 0)
    return fail("usage: growth_commit STATE_DIR COUNT [--catalog URL] [--password-file FILE]");
  store::CatalogLocation location;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--catalog") location.url = argv[i + 1];
    else if (flag == "--password-file") location.password_file = argv[i + 1];
    else return fail("unknown option " + flag);
  }
  const int count = std::atoi(argv[2]);
  auto opened = store::Store::open(argv[1], "", location);
  if (!opened) return fail(opened.error().message);
  store::MilterCatalog& catalog = (*opened)->catalog;  // what the milter is handed
  nlohmann::json total = nlohmann::json::array(), record = total, release = total, undo = total;
  for (int round = 0; round < count; ++round) {
    const store::Offload o = offload((*opened)->tokens, round, std::time(nullptr));
    const auto t0 = Clock::now();
    auto ids = catalog.record_offload(o);
    if (!ids) return fail(ids.error().message);
    const auto t1 = Clock::now();
    if (auto s = catalog.release_outbox(ids->message_id, o.now); !s) return fail(s.error().message);
    const auto t2 = Clock::now();
    record.push_back(std::chrono::duration<double>(t1 - t0).count());
    release.push_back(std::chrono::duration<double>(t2 - t1).count());
    total.push_back(std::chrono::duration<double>(t2 - t0).count());
    if (round % 10 != 0) continue;
    auto undone = catalog.record_offload(offload((*opened)->tokens, round, o.now));
    if (!undone) return fail(undone.error().message);
    const auto t3 = Clock::now();
    if (auto gone = catalog.remove_message(undone->message_id); !gone)
      return fail(gone.error().message);
    undo.push_back(std::chrono::duration<double>(Clock::now() - t3).count());
  }
  nlohmann::json out = {{"seconds", total}, {"record", record}, {"release", release},
                        {"undo", undo}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
