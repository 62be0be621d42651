// store/catalog.cc - opening the catalog and migrating its schema.
#include "store/catalog.h"

#include <iterator>

#include "store/catalog_schema.h"
#include "store/catalog_schema_postgres.h"

namespace attachgate::store {

int Catalog::latest_schema_version() { return static_cast<int>(std::size(kMigrations)); }
static_assert(std::size(kPostgresMigrations) > 0 &&
                  std::end(kPostgresMigrations)[-1].version == std::size(kMigrations),
              "every schema version reaches PostgreSQL too (catalog_schema_postgres.h)");

Result<Catalog> Catalog::open(const std::string& location,
                              const std::optional<std::string>& password) {
  auto db = Db::open(location, password);
  if (!db) return db.error();
  auto reader = Db::open(location, password);
  if (!reader) return reader.error();
  Catalog catalog(std::move(db.value()), std::move(reader.value()));
  const std::string where = catalog.engine() == Engine::postgres ? "catalog" : location;
  if (catalog.engine() == Engine::sqlite) {
    // WAL: one writer and many readers, and readers never block the milter.
    // add_event's synchronous = NORMAL is only safe in WAL mode, so a catalog
    // that will not switch (a filesystem without shared memory) is refused.
    // secure_delete: a cleared payload or a forgotten message is overwritten
    // with zeros in the database file, not left in a free page.
    for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
                               "PRAGMA foreign_keys = ON", "PRAGMA secure_delete = ON"}) {
      if (auto s = catalog.db_.exec(pragma); !s)
        return make_error(location + ": " + s.error().message);
    }
    Stmt mode(catalog.db_, "PRAGMA journal_mode");
    auto row = mode.step();
    if (!row) return make_error(location + ": " + row.error().message);
    if (!*row || mode.text(0) != "wal")
      return make_error(location + ": the catalog cannot use WAL journal mode; put state_dir on a local filesystem");
  }
  if (auto s = catalog.migrate(where); !s) return s.error();
  const char* read_only = catalog.engine() == Engine::sqlite
                              ? "PRAGMA query_only = ON"
                              : "SET default_transaction_read_only = on";
  if (auto s = catalog.reader_.exec(read_only); !s)
    return make_error(where + ": " + s.error().message);
  return catalog;
}

int Catalog::schema_version() {
  std::lock_guard lock(mu_);
  auto version = stored_version();
  return version ? *version : -1;
}

Result<int> Catalog::stored_version() {
  if (engine() == Engine::postgres) {
    if (auto s = db_.exec("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)"); !s)
      return s.error();
    Stmt st(db_, "SELECT max(version) FROM schema_version");
    auto row = st.step();
    if (!row) return row.error();
    return *row && !st.is_null(0) ? static_cast<int>(st.int64(0)) : 0;
  }
  Stmt st(db_, "PRAGMA user_version");
  auto row = st.step();
  if (!row) return row.error();
  return *row ? static_cast<int>(st.int64(0)) : 0;
}

Status Catalog::migrate(const std::string& where) {
  Transaction tx(db_);
  if (auto s = tx.begin(); !s) return make_error(where + ": " + s.error().message);
  auto stored = stored_version();
  if (!stored) return make_error(where + ": " + stored.error().message);
  const int version = *stored;
  const int latest = latest_schema_version();
  if (version > latest)
    return make_error(where + ": catalog schema version " + std::to_string(version) +
                      " is newer than this attachgate knows (" + std::to_string(latest) +
                      "); run a newer attachgate");
  if (engine() == Engine::postgres) {
    for (const PostgresMigration& m : kPostgresMigrations) {
      if (m.version <= version) continue;
      if (auto s = db_.exec(m.sql); !s)
        return make_error(where + ": migration " + std::to_string(m.version) + ": " + s.error().message);
      Stmt set(db_, "INSERT INTO schema_version (version) VALUES (?1)");
      if (auto s = set.bind(1, m.version).run(); !s) return make_error(where + ": " + s.error().message);
    }
  } else {
    for (int v = version; v < latest; ++v) {
      if (auto s = db_.exec(kMigrations[v]); !s)
        return make_error(where + ": migration " + std::to_string(v + 1) + ": " + s.error().message);
    }
    if (version < latest) {
      std::string set = "PRAGMA user_version = " + std::to_string(latest);
      if (auto s = db_.exec(set.c_str()); !s) return make_error(where + ": " + s.error().message);
    }
  }
  if (auto s = tx.commit(); !s) return make_error(where + ": " + s.error().message);
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

Status Catalog::ping() {
  std::lock_guard lock(read_mu_);
  // One row through the primary key: the file (or server) must answer, and
  // the cost does not grow with the catalog.
  Stmt st(reader_, "SELECT id FROM messages ORDER BY id DESC LIMIT 1");
  auto row = st.step();
  if (!row) return row.error();
  return {};
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
    Stmt st(db_, "INSERT INTO key_check (id, value, created_at) VALUES (1, ?1, ?2) ON CONFLICT DO NOTHING");
    if (auto s = st.bind_blob(1, value).bind(2, now).run(); !s) return s.error();
  }
  auto recorded = key_check();
  if (!recorded) return recorded.error();
  if (!*recorded) return make_error("catalog: key check value vanished after it was written");
  return std::move(**recorded);
}

}  // namespace attachgate::store
