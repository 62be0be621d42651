// tests/e2e/seed_link.cc - a test fixture tool: puts one file behind one
// link in a state directory, through the real Store (encrypted blob,
// catalog rows), so the web tests can start where a recipient starts: at the
// link. The milter makes links from mail; tests that need a file of a given
// size or name, a short expiry or a known access code use this instead.
//
//   seed_link [--config FILE] STATE_DIR FILE NAME_HEX MAX_DOWNLOADS EXPIRES_IN_SECONDS [CODE]
//     prints {"token":..., "pixel":..., "file_id":..., "queue_id":...}
//   seed_link --hash-code CODE
//     prints the crypto_pwhash string for CODE (a test sets a known code on
//     a link the milter made; the sender learns codes from receipts, which
//     are not built yet)
//   seed_link [--config FILE] --recipients STATE_DIR ADDR...
//     one message with two small files and a status page; each ADDR gets a
//     link of its own, except one written as internal:ADDR, who got the
//     attachment in the mail. Each recipient's delivery is recorded. Prints
//     {"status":..., "queue_id":..., "file_ids":[...],
//      "links":{ADDR:{"token":..., "pixel":...}, ...}}
//
// The name comes as hex so a test can pass CR, LF and invalid UTF-8.
// With --config, the store is opened as attachgate opens it from that
// service config (master_key_file, [catalog] and [blobs]: PostgreSQL and S3
// too), with STATE_DIR as its state_dir.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/service_config.h"
#include "store/secrets.h"
#include "store/store.h"

namespace {

using namespace attachgate;

int fail(const std::string& what) {
  std::fprintf(stderr, "seed_link: %s\n", what.c_str());
  return 1;
}

// The service config's store, or the state directory's defaults without one.
Result<std::unique_ptr<store::Store>> open_store(const std::string& state_dir,
                                                 const std::string& config_path) {
  if (config_path.empty()) return store::Store::open(state_dir);
  auto loaded = config::load_service_config(config_path);
  if (!loaded.ok()) return make_error(config::format_problems(loaded.problems));
  const config::ServiceConfig& c = *loaded.value;
  return store::Store::open(state_dir, c.master_key_file,
                            {c.catalog_url, c.catalog_password_file},
                            {c.blobs_url, c.blobs_credentials_file});
}

bool from_hex(const std::string& hex, std::string& out) {
  if (hex.size() % 2 != 0) return false;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    char* end = nullptr;
    std::string pair = hex.substr(i, 2);
    long v = std::strtol(pair.c_str(), &end, 16);
    if (*end != '\0') return false;
    out.push_back(static_cast<char>(v));
  }
  return true;
}

int seed(int argc, char** argv, const std::string& config_path) {
  std::string name;
  if (!from_hex(argv[3], name)) return fail("NAME_HEX is not hex");
  const int max_downloads = std::atoi(argv[4]);
  const long expires_in = std::atol(argv[5]);
  auto opened = open_store(argv[1], config_path);
  if (!opened) return fail(opened.error().message);
  store::Store& s = **opened;

  auto writer = s.blobs.create();
  if (!writer) return fail(writer.error().message);
  std::ifstream in(argv[2], std::ios::binary);
  if (!in) return fail(std::string("cannot read ") + argv[2]);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) {
      if (auto w = writer->write(buf.data(), static_cast<std::size_t>(in.gcount())); !w)
        return fail(w.error().message);
    }
  }
  auto blob = writer->commit();
  if (!blob) return fail(blob.error().message);

  store::Offload o;
  o.now = std::time(nullptr);
  o.message.queue_id = "SEED" + store::new_public_id(4);
  o.message.sender = "alice@example.org";
  o.message.subject = "seeded by the web tests";
  o.message.recipients = {"bob@example.net"};
  o.files.push_back({name, "application/pdf", *blob});
  const std::string token = store::new_token();
  store::NewLink link;
  link.token_hash = s.tokens.hash(token);
  link.pixel_id = store::new_public_id(16);
  link.expires_at = o.now + expires_in;
  link.max_downloads = max_downloads;
  if (argc > 6) {
    auto hash = store::hash_access_code(argv[6]);
    if (!hash) return fail(hash.error().message);
    link.code_hash = *hash;
  }
  o.links.push_back(link);
  auto ids = s.catalog.record_offload(o);
  if (!ids) return fail(ids.error().message);
  nlohmann::json out = {{"token", token},
                        {"pixel", link.pixel_id},
                        {"file_id", ids->file_public_ids.at(0)},
                        {"queue_id", o.message.queue_id}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

// What a milter with links per recipient records, for the status page's
// tests: no mail is involved, so delivery events are written here.
int seed_recipients(int argc, char** argv, const std::string& config_path) {
  auto opened = open_store(argv[2], config_path);
  if (!opened) return fail(opened.error().message);
  store::Store& s = **opened;
  store::Offload o;
  o.now = std::time(nullptr) - 600;
  o.message.queue_id = "SEED" + store::new_public_id(4);
  o.message.sender = "alice@example.org";
  o.message.subject = "Q3 figures for the board";
  const char* const names[] = {"q3-report.pdf", "figures.xlsx"};
  for (const char* name : names) {
    auto writer = s.blobs.create();
    if (!writer) return fail(writer.error().message);
    const std::string data(150'000, name[0]);
    if (auto w = writer->write(data.data(), data.size()); !w) return fail(w.error().message);
    auto blob = writer->commit();
    if (!blob) return fail(blob.error().message);
    o.files.push_back({name, "application/pdf", *blob});
  }
  nlohmann::json links = nlohmann::json::object();
  for (int i = 3; i < argc; ++i) {
    std::string address = argv[i];
    const bool internal = address.rfind("internal:", 0) == 0;
    if (internal) address = address.substr(9);
    o.message.recipients.push_back(address);
    if (internal) continue;
    const std::string token = store::new_token();
    store::NewLink link;
    link.token_hash = s.tokens.hash(token);
    link.pixel_id = store::new_public_id(16);
    link.recipient = address;
    link.expires_at = o.now + 7 * 86400;
    o.links.push_back(link);
    links[address] = {{"token", token}, {"pixel", link.pixel_id}};
  }
  const std::string status = store::new_token();
  o.status_token_hash = s.tokens.hash(status);
  auto ids = s.catalog.record_offload(o);
  if (!ids) return fail(ids.error().message);
  for (const auto& address : o.message.recipients) {
    store::EventRecord e;
    e.message_id = ids->message_id;
    e.kind = store::EventKind::delivered;
    e.at = o.now + 4;
    e.recipient = address;
    e.detail = "relay=mx.example.net";
    if (auto added = s.catalog.add_event(e); !added) return fail(added.error().message);
  }
  nlohmann::json out = {{"status", status},
                        {"queue_id", o.message.queue_id},
                        {"file_ids", ids->file_public_ids},
                        {"links", links}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  if (argc >= 3 && std::string(argv[1]) == "--config") {
    config_path = argv[2];
    argv[2] = argv[0];  // the rest as if the option were not there
    argc -= 2;
    argv += 2;
  }
  if (argc >= 4 && std::string(argv[1]) == "--recipients")
    return seed_recipients(argc, argv, config_path);
  if (argc == 3 && std::string(argv[1]) == "--hash-code") {
    store::init_sodium();
    auto hash = store::hash_access_code(argv[2]);
    if (!hash) return fail(hash.error().message);
    std::printf("%s\n", hash->c_str());
    return 0;
  }
  if (argc != 6 && argc != 7)
    return fail("usage: seed_link [--config FILE] STATE_DIR FILE NAME_HEX MAX_DOWNLOADS "
                "EXPIRES_IN [CODE]\n"
                "       seed_link --hash-code CODE\n"
                "       seed_link [--config FILE] --recipients STATE_DIR ADDR... "
                "(internal:ADDR: no link)");
  return seed(argc, argv, config_path);
}
