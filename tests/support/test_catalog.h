// tests/support/test_catalog.h - where a test's catalog lives.
//
// By default a test's catalog is the SQLite file it names. With
// ATTACHGATE_TEST_POSTGRES set to a PostgreSQL URL (tests/store/run_on_postgres.py
// sets it, having started a server), each file name stands for a schema of
// its own in that database instead, made on first use, so the same tests
// run against the PostgreSQL back end: opening the same name again reaches
// the same schema, as reopening a file reaches the same file.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include <unistd.h>

#include "store/catalog_location.h"
#include "store/sql.h"
#include "util/result.h"

namespace attachgate::testing {

inline const char* test_postgres_url() {
  const char* url = std::getenv("ATTACHGATE_TEST_POSTGRES");
  return url && *url ? url : nullptr;
}

// The catalog to open for what would otherwise be the SQLite file `path`.
inline std::string catalog_at(const std::filesystem::path& path) {
  const char* base = test_postgres_url();
  if (!base) return path.string();
  static std::mutex mu;
  static std::map<std::string, std::string> urls;
  static int made = 0;
  std::lock_guard lock(mu);
  auto& url = urls[path.string()];
  if (url.empty()) {
    const std::string schema =
        "t_" + std::to_string(::getpid()) + "_" + std::to_string(++made);
    auto db = store::Db::open(base);
    if (!db) panic(("test catalog: " + db.error().message).c_str());
    if (auto s = db->exec(("CREATE SCHEMA " + schema).c_str()); !s)
      panic(("test catalog: " + s.error().message).c_str());
    const std::string b = base;
    url = b + (b.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
  }
  return url;
}

// Fault injection: a trigger that makes every insert into `table` (where
// `when`, a condition on NEW, holds) fail with `message`, on either engine.
inline Status fail_inserts(store::Db& db, const std::string& table, const std::string& message,
                           const std::string& when = "") {
  if (db.engine() == store::Engine::postgres)
    return db.exec(("CREATE FUNCTION fail_" + table + "() RETURNS trigger LANGUAGE plpgsql AS"
                    " $$ BEGIN RAISE EXCEPTION '" + message + "'; END $$;"
                    "CREATE TRIGGER fail_" + table + " BEFORE INSERT ON " + table +
                    " FOR EACH ROW" + (when.empty() ? "" : " WHEN (" + when + ")") +
                    " EXECUTE FUNCTION fail_" + table + "()").c_str());
  return db.exec(("CREATE TRIGGER fail_" + table + " BEFORE INSERT ON " + table +
                  (when.empty() ? "" : " WHEN " + when) + " BEGIN SELECT RAISE(ABORT, '" +
                  message + "'); END").c_str());
}

// For Store::open(state_dir, key, ...): the default unless on PostgreSQL.
inline store::CatalogLocation catalog_for_state(const std::filesystem::path& state_dir) {
  if (!test_postgres_url()) return {};
  return store::CatalogLocation{catalog_at(state_dir / "catalog.db"), ""};
}

}  // namespace attachgate::testing
