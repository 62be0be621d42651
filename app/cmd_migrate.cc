// app/cmd_migrate.cc - `attachgate migrate-store`: copy this installation's
// catalog and blobs (as its config places them: by default SQLite and
// files under state_dir) to other back ends, PostgreSQL and S3, for
// scale-out (docs/scale-out.md). The work and its checks are
// store/migrate.h's; this file reads the options, prints progress on
// stderr and the summary on stdout (--json: one document). Exit 0: a whole
// copy, checked; 1: the check found differences; 2: it could not run.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/options.h"
#include "store/catalog_location.h"
#include "store/migrate.h"
#include "util/units.h"

namespace attachgate::app {
namespace {

struct MigrateArgs {
  std::string to_catalog, to_catalog_password_file, to_blobs, to_blobs_credentials_file;
  int batch_rows = 500;
};

const char* kFooter = R"(
Stop attachgate (every role) on this installation first: what it writes
after the copy began is not copied. The source is only read: its catalog is
opened read-only, its blobs are read as they are stored (ciphertext: they are
not decrypted or sealed again, so the same master key file opens them on the
new back ends; the catalog's key check value is copied with it).

It can be stopped at any time and run again: rows and blobs already in the
destination are not copied twice. At the end it compares every table's row
count and every blob's SHA-256 between source and destination.

Then point [catalog] url / password_file and [blobs] url / credentials_file
of every node at the new back ends, keep master_key_file the same, and start
attachgate (docs/scale-out.md, "Moving an existing deployment").

Example:
  PGPASSWORD=... attachgate --config /etc/attachgate/attachgate.toml migrate-store \
    --to-catalog 'postgresql://attachgate@db.example.org/attachgate?sslmode=verify-full' \
    --to-blobs 's3://attachgate/blobs?endpoint=https://s3.example.org&region=eu-west-1' \
    --to-blobs-credentials-file /etc/attachgate/s3.credentials
)";

// Progress for people, on stderr: a line per batch of rows, per blob.
class StderrProgress : public store::MigrateProgress {
 public:
  void phase(const std::string& what) override { std::cerr << "migrate-store: " << what << "\n"; }
  void table(const store::TableCopyReport& r, bool finished) override {
    std::cerr << "migrate-store: " << store::table_name(r.table) << ": ";
    if (finished)
      std::cerr << r.source_rows << " rows (" << r.copied << " copied, " << r.already
                << " already there)\n";
    else
      std::cerr << r.already + r.copied << "/" << r.source_rows << " rows\n";
  }
  void blob(const store::BlobTotals& t, const std::string& id) override {
    std::cerr << "migrate-store: blobs " << t.done << "/" << t.total << ", "
              << format_size(t.bytes_done) << " of " << format_size(t.bytes_total) << " (" << id
              << ")\n";
  }
  void verified(std::int64_t done, std::int64_t of) override {
    if (done == of || done % 100 == 0)
      std::cerr << "migrate-store: verified " << done << "/" << of << " blobs by SHA-256\n";
  }
};

nlohmann::json report_json(const store::MigrateReport& r) {
  nlohmann::json tables = nlohmann::json::array();
  for (const store::TableCount& c : r.counts) {
    nlohmann::json t{{"table", store::table_name(c.table)},
                     {"source_rows", c.source},
                     {"destination_rows", c.destination}};
    for (const store::TableCopyReport& copy : r.tables)
      if (copy.table == c.table) {
        t["copied"] = copy.copied;
        t["already_there"] = copy.already;
      }
    tables.push_back(t);
  }
  return {{"ok", r.problems.empty()},
          {"tables", tables},
          {"blobs", {{"total", r.blobs.total},
                     {"copied", r.blobs.copied},
                     {"already_there", r.blobs.already},
                     {"missing_in_source", r.blobs.missing_in_source},
                     {"bytes_total", r.blobs.bytes_total},
                     {"bytes_copied", r.blobs.bytes_copied},
                     {"verified", r.blobs_verified}}},
          {"problems", r.problems},
          {"warnings", r.warnings}};
}

void print_text(const store::MigrateReport& r) {
  std::cout << "table            source  destination  copied now\n";
  for (const store::TableCount& c : r.counts) {
    std::int64_t copied = 0;
    for (const store::TableCopyReport& copy : r.tables)
      if (copy.table == c.table) copied = copy.copied;
    char line[128];
    std::snprintf(line, sizeof line, "%-15s %7lld  %11lld  %10lld\n", store::table_name(c.table),
                  static_cast<long long>(c.source), static_cast<long long>(c.destination),
                  static_cast<long long>(copied));
    std::cout << line;
  }
  std::cout << "blobs: " << r.blobs.total << " (" << r.blobs.copied << " copied now, "
            << format_size(r.blobs.bytes_copied) << "; " << r.blobs.already << " already there); "
            << r.blobs_verified << " verified by SHA-256\n";
  if (r.problems.empty())
    std::cout << "The destination is a whole copy. Point [catalog] and [blobs] of every node at it, "
                 "keep the same master key file, and start attachgate.\n";
  else
    std::cout << r.problems.size() << " problem(s) found; see above.\n";
}

}  // namespace

Runner add_migrate_command(CLI::App& app, GlobalOptions& options) {
  auto* sub = app.add_subcommand(
      "migrate-store",
      "Copy this installation's catalog and blobs (by default SQLite and files under "
      "state_dir) to PostgreSQL and S3, resumably, and check the copy");
  sub->footer(kFooter);
  // --config, --state-dir (where the source is) also after the subcommand.
  sub->fallthrough();
  static MigrateArgs o;
  sub->add_option("--to-catalog", o.to_catalog,
                  "Destination catalog: postgresql://USER@HOST:PORT/DB?sslmode=... (no password "
                  "in it), or sqlite:PATH")
      ->required();
  sub->add_option("--to-blobs", o.to_blobs,
                  "Destination blob store: s3://BUCKET/PREFIX?endpoint=https://...&region=..., or "
                  "file:DIR")
      ->required();
  sub->add_option("--to-catalog-password-file", o.to_catalog_password_file,
                  "File (0600) whose first line is the destination catalog's password; default: "
                  "libpq's PGPASSWORD or PGPASSFILE");
  sub->add_option("--to-blobs-credentials-file", o.to_blobs_credentials_file,
                  "File (0600) with the S3 access key id and secret; default: AWS_ACCESS_KEY_ID "
                  "and AWS_SECRET_ACCESS_KEY");
  sub->add_option("--batch-rows", o.batch_rows, "Rows copied per destination transaction")
      ->check(CLI::Range(1, 100000))->capture_default_str();
  sub->add_flag("--json", options.json, "Print the final summary as JSON");
  return [&options] {
    auto service = load_service(options);
    if (!service) {
      std::cerr << service.error().message << "\n";
      return 2;
    }
    const store::CatalogLocation here{service->catalog_url, service->catalog_password_file};
    const store::CatalogLocation there{o.to_catalog, o.to_catalog_password_file};
    auto password = store::load_catalog_password(here);
    auto to_password = store::load_catalog_password(there);
    for (const auto* p : {&password, &to_password})
      if (!*p) {
        std::cerr << "attachgate: migrate-store: " << p->error().message << "\n";
        return 2;
      }
    const store::MigrateEnd from{store::catalog_url(here, service->state_dir), *password,
                                 service->state_dir,
                                 {service->blobs_url, service->blobs_credentials_file}};
    const store::MigrateEnd to{o.to_catalog, *to_password, service->state_dir,
                               {o.to_blobs, o.to_blobs_credentials_file}};
    StderrProgress progress;
    auto report = store::migrate_store(from, to, progress, {o.batch_rows});
    if (!report) {
      std::cerr << "attachgate: migrate-store: " << report.error().message << "\n";
      return 2;
    }
    for (const auto& w : report->warnings) std::cerr << "attachgate: migrate-store: warning: " << w << "\n";
    for (const auto& p : report->problems) std::cerr << "attachgate: migrate-store: " << p << "\n";
    if (options.json) std::cout << report_json(*report).dump(2) << "\n";
    else print_text(*report);
    return report->problems.empty() ? 0 : 1;
  };
}

}  // namespace attachgate::app
