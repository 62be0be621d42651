// store/migrate.cc - see migrate.h.
#include "store/migrate.h"

#include <sys/stat.h>

#include <memory>
#include <set>

#include "store/blob_copy.h"
#include "store/blob_store.h"
#include "store/catalog.h"
#include "store/catalog_internal.h"

namespace attachgate::store {
namespace {

std::string sqlite_path(const std::string& location) {
  return location.starts_with("sqlite:") ? location.substr(7) : location;
}

Result<int> schema_version_of(Db& db) {
  Stmt st(db, db.engine() == Engine::postgres ? "SELECT max(version) FROM schema_version"
                                              : "PRAGMA user_version");
  auto row = st.step();
  if (!row) return row.error();
  return *row && !st.is_null(0) ? static_cast<int>(st.int64(0)) : 0;
}

struct Source {
  Db catalog;
  std::shared_ptr<const BlobBackend> blobs;
};

struct Destination {
  Catalog schema;  // opened once to create or migrate the schema; counts
  Db catalog;
  std::shared_ptr<const BlobBackend> blobs;
};

Result<Source> open_source(const MigrateEnd& from) {
  if (!Db::is_postgres_url(from.catalog)) {
    struct stat st {};
    if (::stat(sqlite_path(from.catalog).c_str(), &st) != 0)
      return make_error("source catalog " + sqlite_path(from.catalog) + ": no such file (state_dir is " +
                        from.state_dir + "; pass the --config or --state-dir of the installation to copy)");
  }
  auto db = Db::open_read_only(from.catalog, from.password);
  if (!db) return make_error("source catalog: " + db.error().message);
  auto version = schema_version_of(*db);
  if (!version) return make_error("source catalog: " + version.error().message);
  if (*version != Catalog::latest_schema_version())
    return make_error("source catalog: schema version " + std::to_string(*version) +
                      ", where this attachgate writes version " +
                      std::to_string(Catalog::latest_schema_version()) +
                      ": start this attachgate once on the source (it migrates its catalog), stop "
                      "it, and run migrate-store again");
  auto blobs = open_blob_backend(from.state_dir, from.blobs);
  if (!blobs) return make_error("source blobs: " + blobs.error().message);
  return Source{std::move(*db), std::move(*blobs)};
}

Result<Destination> open_destination(const MigrateEnd& to) {
  const std::string advice =
      ". Check --to-catalog, that the server is running and reachable from here, and the "
      "password (--to-catalog-password-file or PGPASSWORD)";
  auto schema = Catalog::open(to.catalog, to.password);
  if (!schema) return make_error("destination catalog: " + schema.error().message + advice);
  auto db = Db::open(to.catalog, to.password);
  if (!db) return make_error("destination catalog: " + db.error().message + advice);
  auto blobs = open_blob_backend(to.state_dir, to.blobs);
  if (!blobs)
    return make_error("destination blobs: " + blobs.error().message +
                      ". Check --to-blobs and --to-blobs-credentials-file (or AWS_ACCESS_KEY_ID "
                      "and AWS_SECRET_ACCESS_KEY)");
  return Destination{std::move(*schema), std::move(*db), std::move(*blobs)};
}

// The blob ids the source catalog needs, each once, in a stable order.
Result<std::vector<std::string>> blob_ids(Db& source, MigrateReport& report) {
  Stmt st(source, kBlobIdsInUseSql);
  std::set<std::string> ids;
  for (;;) {
    auto row = st.step();
    if (!row) return make_error("source catalog: " + row.error().message);
    if (!*row) break;
    std::string id = st.text(0);
    if (BlobStore::valid_id(id)) ids.insert(std::move(id));
    else report.warnings.push_back("the source catalog names a blob id that is not one: \"" + id + "\"");
  }
  return std::vector<std::string>(ids.begin(), ids.end());
}

Status copy_blobs(const Source& from, const Destination& to, const std::vector<std::string>& ids,
                  MigrateReport& report, MigrateProgress& progress) {
  BlobTotals& totals = report.blobs;
  totals.total = static_cast<std::int64_t>(ids.size());
  for (const std::string& id : ids) {
    auto object = from.blobs->open(id);
    if (!object) return make_error("source blobs " + from.blobs->where() + ": " + object.error().message);
    if (*object) totals.bytes_total += (*object)->size();
  }
  for (const std::string& id : ids) {
    auto copied = copy_object(*from.blobs, *to.blobs, id);
    if (!copied) return copied.error();
    ++totals.done;
    totals.bytes_done += copied->bytes;
    switch (copied->outcome) {
      case BlobCopyOutcome::copied:
        ++totals.copied;
        totals.bytes_copied += copied->bytes;
        break;
      case BlobCopyOutcome::already_there: ++totals.already; break;
      case BlobCopyOutcome::missing_in_source:
        ++totals.missing_in_source;
        report.warnings.push_back("blob " + id + " is not in the source's store (lost before the "
                                  "move; attachgate marks its file missing)");
        break;
    }
    progress.blob(totals, id);
  }
  return {};
}

Status verify(Source& from, Destination& to, const std::vector<std::string>& ids,
              MigrateReport& report, MigrateProgress& progress) {
  for (CatalogTable table : kCatalogTables) {
    auto ours = count_rows(from.catalog, table);
    if (!ours) return make_error("source catalog: " + ours.error().message);
    auto theirs = to.schema.count(table);
    if (!theirs) return make_error("destination catalog: " + theirs.error().message);
    report.counts.push_back({table, *ours, *theirs});
    if (*ours != *theirs)
      report.problems.push_back(std::string("table ") + table_name(table) + ": " +
                                std::to_string(*ours) + " rows in the source, " +
                                std::to_string(*theirs) + " in the destination");
  }
  std::int64_t checked = 0;
  for (const std::string& id : ids) {
    auto ours = object_sha256(*from.blobs, id);
    if (!ours) return make_error("source blobs: " + ours.error().message);
    auto theirs = object_sha256(*to.blobs, id);
    if (!theirs) return make_error("destination blobs: " + theirs.error().message);
    progress.verified(++checked, static_cast<std::int64_t>(ids.size()));
    if (!*ours) continue;  // a warning already
    if (!*theirs) {
      report.problems.push_back("blob " + id + " is missing in the destination; run migrate-store again");
    } else if (**ours != **theirs) {
      report.problems.push_back("blob " + id + " differs in the destination (SHA-256 " + **theirs +
                                ", the source's " + **ours +
                                "); delete it from the destination and run migrate-store again");
    } else {
      ++report.blobs_verified;
    }
  }
  return {};
}

}  // namespace

Result<MigrateReport> migrate_store(const MigrateEnd& from, const MigrateEnd& to,
                                    MigrateProgress& progress, const MigrateOptions& options) {
  if (sqlite_path(from.catalog) == sqlite_path(to.catalog))
    return make_error("the destination catalog is the source's; name another with --to-catalog");
  auto source = open_source(from);
  if (!source) return source.error();
  auto destination = open_destination(to);
  if (!destination) return destination.error();
  if (source->blobs->where() == destination->blobs->where())
    return make_error("the destination blob store is the source's (" + source->blobs->where() +
                      "); name another with --to-blobs");

  // One read snapshot of the source for the whole run.
  if (auto s = source->catalog.exec(source->catalog.engine() == Engine::postgres
                                        ? "BEGIN ISOLATION LEVEL REPEATABLE READ"
                                        : "BEGIN");
      !s)
    return make_error("source catalog: " + s.error().message);
  MigrateReport report;
  CatalogCopier copier(source->catalog, destination->catalog, options.batch_rows);
  progress.phase("checking the destination");
  if (auto s = copier.check_destination(); !s) return s.error();
  auto ids = blob_ids(source->catalog, report);
  if (!ids) return ids.error();
  if (!ids->empty()) {  // an unreachable object store fails here, before any row is written
    if (auto probe = destination->blobs->exists(ids->front()); !probe)
      return make_error("destination blobs " + destination->blobs->where() + ": " +
                        probe.error().message);
  }

  progress.phase("copying the catalog");
  for (CatalogTable table : kCopyOrder) {
    auto copied = copier.copy_table(table, [&](const TableCopyReport& r) { progress.table(r, false); });
    if (!copied) return make_error("copying " + std::string(table_name(table)) + ": " + copied.error().message);
    progress.table(*copied, true);
    report.tables.push_back(*copied);
  }
  if (auto s = copier.finish(); !s)
    return make_error("destination catalog: setting its id sequences: " + s.error().message);

  progress.phase("copying the blobs");
  if (auto s = copy_blobs(*source, *destination, *ids, report, progress); !s) return s.error();
  progress.phase("verifying");
  if (auto s = verify(*source, *destination, *ids, report, progress); !s) return s.error();
  (void)source->catalog.exec("COMMIT");
  return report;
}

}  // namespace attachgate::store
