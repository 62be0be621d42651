// bench/growth_seed.cc - a catalog of N messages for bench/growth.py, by
// rows, not mail: attachgate opens the store once (key, schema), then the
// rows go in through sql.h in big transactions (bulk_rows.h).
//
//   growth_seed STATE_DIR N [--catalog URL] [--password-file FILE] [--probes K]
//
// Each message: 2 recipients, 1 file, a link per recipient (both grant the
// file), a status page, a sent receipt, 4 or 5 events (offloaded, delivered
// twice, viewed, and for every other message a completed download with its
// ticket). Messages are spread over the last 7 days; every tenth one's
// links expired an hour ago and its file is still stored, so a purge has
// 10 % of the files to do. Tokens are made from the message's index and
// hashed with the state directory's TokenHasher, as the milter hashes its
// own: K probe messages, spread over the ids and never expired, have links
// good for 100,000 downloads and 50 events each, and their link and status
// tokens are printed as JSON for the client. No blobs are written: the
// landing page, a claim and the status page read only the catalog, and
// `attachgate web` does not reconcile blobs (the milter does).
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bulk_rows.h"
#include "store/catalog_location.h"
#include "store/secrets.h"
#include "store/store.h"

namespace {

using namespace attachgate;
using bench::Bytes;
using bench::BulkRows;
using bench::Null;
using store::SqlType;

constexpr std::int64_t kDay = 86400;
constexpr int kEventsPerProbe = 50;
constexpr std::int64_t kMessagesPerTransaction = 20'000;
constexpr std::int64_t kMessagesPerFlush = 100;

int fail(const std::string& what) {
  std::fprintf(stderr, "growth_seed: %s\n", what.c_str());
  return 1;
}

// 32 bytes that stand for "what n": BLAKE2b of a label, unkeyed.
std::string digest(const char* what, std::int64_t n, std::size_t bytes = 32) {
  const std::string label = std::string("attachgate-growth/") + what + "/" + std::to_string(n);
  std::string out(bytes, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(label.data()), label.size(), nullptr, 0);
  return out;
}

std::string hex(const std::string& bytes) {
  std::string out(bytes.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                 bytes.size());
  out.pop_back();
  return out;
}

std::string token(const char* what, std::int64_t n) {
  const std::string raw = digest(what, n);
  return store::base64url(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

struct Options {
  std::string state_dir;
  std::int64_t messages = 0;
  store::CatalogLocation catalog;
  int probes = 200;
};

struct Tables {
  BulkRows messages, recipients, files, links, link_files, events, downloads, download_files,
      outbox;
  explicit Tables(store::Db& db)
      : messages(db, "messages",
                 {"id", "public_id", "queue_id", "sender", "subject", "client_addr", "outcome",
                  "created_at", "status_token_hash", "download_notice", "header_message_id"}),
        recipients(db, "recipients", {"id", "message_id", "address"}),
        files(db, "files",
              {"id", "public_id", "message_id", "filename", "content_type", "size", "sha256",
               "blob_id", "state", "created_at"}),
        links(db, "links",
              {"id", "message_id", "token_hash", "pixel_id", "recipient", "expires_at",
               "max_downloads", "created_at"}),
        link_files(db, "link_files", {"link_id", "file_id", "downloads"}),
        events(db, "events",
               {"id", "message_id", "file_id", "link_id", "kind", "at", "recipient",
                "remote_addr", "user_agent", "detail"}),
        downloads(db, "downloads",
                  {"id", "ticket_hash", "link_id", "claimed_at", "resume_until", "completed_at",
                   "remote_addr", "user_agent"}),
        download_files(db, "download_files", {"download_id", "file_id"}),
        outbox(db, "outbox",
               {"id", "kind", "message_id", "target", "payload", "attempts", "next_attempt_at",
                "created_at", "sent_at"}) {}

  BulkRows* all[9] = {&messages, &recipients, &files, &links, &link_files,
                      &events, &downloads, &download_files, &outbox};
};

class Seeder {
 public:
  Seeder(const Options& o, store::Db& db, const store::TokenHasher& hasher, std::int64_t now)
      : o_(o), t_(db), hasher_(hasher), now_(now) {
    for (int k = 0; k < o.probes; ++k) {
      std::int64_t i = o.messages * k / o.probes;
      if (is_expired(i)) ++i;
      probes_.push_back(i);
    }
  }

  static bool is_expired(std::int64_t i) { return i % 10 == 5; }
  bool is_probe(std::int64_t i) const {
    return next_probe_ < probes_.size() && probes_[next_probe_] == i;
  }

  void message(std::int64_t i) {
    const bool probe = is_probe(i);
    if (probe) ++next_probe_;
    const std::int64_t id = i + 1;
    const std::int64_t created = now_ - 7 * kDay + i * 7 * kDay / o_.messages;
    const std::int64_t expires = is_expired(i) ? now_ - 3600 : created + 14 * kDay;
    const std::string rcpt[2] = {"r" + std::to_string(i) + "@example.net",
                                 "team" + std::to_string(i % 500) + "@example.com"};
    char public_id[17];
    std::snprintf(public_id, sizeof public_id, "%016llx", static_cast<unsigned long long>(id));
    t_.messages.add({id, std::string(public_id), "G" + hex(digest("queue", i, 5)),
                     "user" + std::to_string(i % 1000) + "@example.org",
                     "Quarterly figures " + std::to_string(i), std::string("192.0.2.10"),
                     std::string("offloaded"), created, Bytes{hasher_.hash(token("status", i))},
                     std::string("never"), "<" + std::to_string(i) + ".growth@example.org>"});
    for (int r = 0; r < 2; ++r) t_.recipients.add({2 * i + 1 + r, id, rcpt[r]});
    t_.files.add({id, "f" + hex(digest("file", i, 8)).substr(1), id,
                  "report-" + std::to_string(i) + ".pdf", std::string("application/pdf"),
                  std::int64_t{2'000'000} + i % 1000, hex(digest("sha", i)),
                  hex(digest("blob", i, 16)), std::string("stored"), created});
    const std::int64_t max_downloads = probe ? 100'000 : 5;
    for (int r = 0; r < 2; ++r) {
      const std::int64_t link = 2 * i + 1 + r;
      t_.links.add({link, id, Bytes{hasher_.hash(token("link", link))},
                    hex(digest("pixel", link, 16)), rcpt[r], expires, max_downloads, created});
      const std::int64_t used = (r == 0 && i % 2 == 0) ? 1 : 0;
      t_.link_files.add({link, id, used});
    }
    const Null none{SqlType::integer};
    event(id, none, none, "offloaded", created, "", "1 file, 2.0 MB");
    for (int r = 0; r < 2; ++r)
      event(id, none, none, "delivered", created + 2, rcpt[r], "relay=mx.example.net");
    const int interest = probe ? kEventsPerProbe - 3 : 1;
    for (int k = 0; k < interest; ++k)
      event(id, none, 2 * i + 1, "viewed", created + 60 + k, rcpt[0], "");
    if (i % 2 == 0 && !probe) {
      const std::int64_t download = i / 2 + 1, at = created + 120;
      t_.downloads.add({download, Bytes{hasher_.hash(token("ticket", i))}, 2 * i + 1, at,
                        at + 3600, at + 5, std::string("198.51.100.7"),
                        std::string("Mozilla/5.0")});
      t_.download_files.add({download, id});
      event(id, id, 2 * i + 1, "downloaded", at + 5, rcpt[0], "complete");
    }
    t_.outbox.add({id, std::string("receipt"), id,
                   "user" + std::to_string(i % 1000) + "@example.org", Bytes{""},
                   std::int64_t{1}, created, created, created + 1});
  }

  void event(std::int64_t message, bench::Value file, bench::Value link, const char* kind,
             std::int64_t at, const std::string& recipient, const std::string& detail) {
    t_.events.add({++event_id_, message, std::move(file), std::move(link), std::string(kind),
                   at, recipient, std::string(recipient.empty() ? "" : "198.51.100.7"),
                   std::string(recipient.empty() ? "" : "Mozilla/5.0"), detail});
  }

  // Parents first (Tables::all's order).
  Status flush() {
    for (BulkRows* t : t_.all)
      if (auto s = t->flush(); !s) return s;
    return {};
  }

  nlohmann::json report() const {
    nlohmann::json rows = nlohmann::json::object();
    const char* names[] = {"messages", "recipients", "files", "links", "link_files",
                           "events", "downloads", "download_files", "outbox"};
    for (std::size_t k = 0; k < std::size(names); ++k) rows[names[k]] = t_.all[k]->rows();
    nlohmann::json probes = nlohmann::json::array();
    for (std::int64_t i : probes_)
      probes.push_back({{"index", i},
                        {"link", token("link", 2 * i + 1)},
                        {"status", token("status", i)}});
    return {{"rows", rows}, {"probes", probes}};
  }

 private:
  const Options& o_;
  Tables t_;
  const store::TokenHasher& hasher_;
  std::int64_t now_;
  std::vector<std::int64_t> probes_;
  std::size_t next_probe_ = 0;
  std::int64_t event_id_ = 0;
};

// PostgreSQL's identity columns were passed over by the explicit ids: the
// next row attachgate inserts must not take one of them.
Status move_identities(store::Db& db) {
  for (const char* table : {"messages", "recipients", "files", "links", "events", "downloads",
                            "outbox"}) {
    const std::string sql = std::string("SELECT setval(pg_get_serial_sequence('") + table +
                            "', 'id'), (SELECT max(id) FROM " + table + "))";
    if (auto s = db.exec(sql.c_str()); !s) return s;
  }
  return {};
}

Status seed(const Options& o, const store::TokenHasher& hasher, nlohmann::json& out) {
  const std::string url = store::catalog_url(o.catalog, o.state_dir);
  auto password = store::load_catalog_password(o.catalog);
  if (!password) return password.error();
  auto db = store::Db::open(url, *password);
  if (!db) return db.error();
  const bool pg = db->engine() == store::Engine::postgres;
  // A benchmark's catalog: a crash while seeding costs a re-run, not data.
  if (auto s = db->exec(pg ? "SET synchronous_commit = off" : "PRAGMA synchronous = OFF"); !s)
    return s;
  if (!pg)
    if (auto s = db->exec("PRAGMA cache_size = -262144"); !s) return s;
  Seeder seeder(o, *db, hasher, std::time(nullptr));
  for (std::int64_t from = 0; from < o.messages; from += kMessagesPerTransaction) {
    store::Transaction tx(*db);
    if (auto s = tx.begin(); !s) return s;
    for (std::int64_t i = from; i < std::min(o.messages, from + kMessagesPerTransaction); ++i) {
      seeder.message(i);
      if (i % kMessagesPerFlush == kMessagesPerFlush - 1)
        if (auto s = seeder.flush(); !s) return s;
    }
    if (auto s = seeder.flush(); !s) return s;
    if (auto s = tx.commit(); !s) return s;
  }
  if (pg) {
    if (auto s = move_identities(*db); !s) return s;
    // What autovacuum does within a minute of a bulk load.
    if (auto s = db->exec("VACUUM ANALYZE"); !s) return s;
  } else if (auto s = db->exec("PRAGMA wal_checkpoint(TRUNCATE)"); !s) {
    return s;
  }
  out = seeder.report();
  return {};
}

bool parse(int argc, char** argv, Options& o) {
  if (argc < 3) return false;
  o.state_dir = argv[1];
  o.messages = std::atoll(argv[2]);
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--catalog") o.catalog.url = argv[i + 1];
    else if (flag == "--password-file") o.catalog.password_file = argv[i + 1];
    else if (flag == "--probes") o.probes = std::atoi(argv[i + 1]);
    else return false;
  }
  return argc % 2 == 1 && o.messages >= 1 && o.probes >= 1 && o.probes <= o.messages;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o))
    return fail("usage: growth_seed STATE_DIR N [--catalog URL] [--password-file FILE] "
                "[--probes K] (1 <= K <= N)");
  const auto started = std::chrono::steady_clock::now();
  auto opened = store::Store::open(o.state_dir, "", o.catalog);  // key and schema
  if (!opened) return fail(opened.error().message);
  nlohmann::json out;
  if (auto s = seed(o, (*opened)->tokens, out); !s) return fail(s.error().message);
  out["messages"] = o.messages;
  out["seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
