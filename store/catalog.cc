// store/catalog.cc - opening the catalog and migrating its schema.
#include "store/catalog.h"

#include <iterator>

#include "store/catalog_schema.h"

namespace attachgate::store {

int Catalog::latest_schema_version() { return static_cast<int>(std::size(kMigrations)); }

Result<Catalog> Catalog::open(const std::string& path) {
  auto db = Db::open(path);
  if (!db) return db.error();
  auto reader = Db::open(path);
  if (!reader) return reader.error();
  Catalog catalog(std::move(db.value()), std::move(reader.value()));
  // WAL: one writer and many readers, and readers never block the milter.
  // add_event's synchronous = NORMAL is only safe in WAL mode, so a catalog
  // that will not switch (a filesystem without shared memory) is refused.
  // secure_delete: a cleared payload or a forgotten message is overwritten
  // with zeros in the database file, not left in a free page.
  for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                             "PRAGMA foreign_keys = ON", "PRAGMA secure_delete = ON"}) {
    if (auto s = catalog.db_.exec(pragma); !s)
      return make_error(path + ": " + s.error().message);
  }
  {
    Stmt mode(catalog.db_, "PRAGMA journal_mode");
    auto row = mode.step();
    if (!row) return make_error(path + ": " + row.error().message);
    if (!*row || mode.text(0) != "wal")
      return make_error(path + ": the catalog cannot use WAL journal mode; put state_dir on a local filesystem");
  }
  if (auto s = catalog.migrate(path); !s) return s.error();
  if (auto s = catalog.reader_.exec("PRAGMA query_only = ON"); !s)
    return make_error(path + ": " + s.error().message);
  return catalog;
}

int Catalog::schema_version() {
  std::lock_guard lock(mu_);
  Stmt st(db_, "PRAGMA user_version");
  auto row = st.step();
  return row && *row ? static_cast<int>(st.int64(0)) : -1;
}

Status Catalog::migrate(const std::string& path) {
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return make_error(path + ": " + s.error().message);
  int version = 0;
  {
    Stmt st(db_, "PRAGMA user_version");
    auto row = st.step();
    if (!row) return make_error(path + ": " + row.error().message);
    version = static_cast<int>(st.int64(0));
  }
  const int latest = latest_schema_version();
  if (version > latest)
    return make_error(path + ": catalog schema version " + std::to_string(version) +
                      " is newer than this attachgate knows (" + std::to_string(latest) +
                      "); run a newer attachgate");
  for (int v = version; v < latest; ++v) {
    if (auto s = db_.exec(kMigrations[v]); !s)
      return make_error(path + ": migration " + std::to_string(v + 1) + ": " + s.error().message);
  }
  if (version < latest) {
    std::string set = "PRAGMA user_version = " + std::to_string(latest);
    if (auto s = db_.exec(set.c_str()); !s) return make_error(path + ": " + s.error().message);
  }
  if (auto s = tx.commit(); !s) return make_error(path + ": " + s.error().message);
  return {};
}

Result<std::int64_t> Catalog::count(const char* table) {
  std::lock_guard lock(read_mu_);
  std::string sql = std::string("SELECT count(*) FROM ") + table;  // table names are ours
  Stmt st(reader_, sql.c_str());
  auto row = st.step();
  if (!row) return row.error();
  return st.int64(0);
}

Result<std::optional<std::string>> Catalog::key_check() {
  std::lock_guard lock(read_mu_);
  Stmt st(reader_, "SELECT value FROM key_check WHERE id = 1");
  auto row = st.step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st.text(0));
}

Result<std::string> Catalog::adopt_key_check(const std::string& value, std::int64_t now) {
  {
    std::lock_guard lock(mu_);
    Stmt st(db_, "INSERT OR IGNORE INTO key_check (id, value, created_at) VALUES (1, ?1, ?2)");
    if (auto s = st.bind_blob(1, value).bind(2, now).run(); !s) return s.error();
  }
  auto recorded = key_check();
  if (!recorded) return recorded.error();
  if (!*recorded) return make_error("catalog: key check value vanished after it was written");
  return std::move(**recorded);
}

}  // namespace attachgate::store
