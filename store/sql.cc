// store/sql.cc - see sql.h: what both engines' drivers share.
#include "store/sql.h"

namespace attachgate::store {

std::string_view to_string(Engine engine) {
  return engine == Engine::postgres ? "postgresql" : "sqlite";
}

bool Db::is_postgres_url(std::string_view location) {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

Result<Db> Db::open(const std::string& location, const std::optional<std::string>& password) {
  auto c = is_postgres_url(location) ? open_postgres(location, password)
           : location.starts_with("sqlite:") ? open_sqlite(location.substr(7))
                                             : open_sqlite(location);
  if (!c) return c.error();
  return Db(std::move(c.value()));
}

Result<Db> Db::open_read_only(const std::string& location,
                              const std::optional<std::string>& password) {
  if (!is_postgres_url(location)) {
    auto c = open_sqlite(location.starts_with("sqlite:") ? location.substr(7) : location, true);
    if (!c) return c.error();
    return Db(std::move(c.value()));
  }
  auto db = open(location, password);
  if (!db) return db.error();
  if (auto s = db->exec("SET default_transaction_read_only = on"); !s) return s.error();
  return db;
}

Status Stmt::run() {
  auto r = step();
  if (!r) return r.error();
  return {};
}

std::optional<std::int64_t> Stmt::opt_int64(int col) const {
  if (is_null(col)) return std::nullopt;
  return int64(col);
}

std::optional<std::string> Stmt::opt_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

Status Transaction::begin() {
  if (auto s = db_.connection().begin_write(); !s) return s;
  open_ = true;
  return {};
}

Status Transaction::commit() {
  if (auto s = db_.exec("COMMIT"); !s) return s;
  open_ = false;
  return {};
}

Transaction::~Transaction() {
  if (open_) (void)db_.exec("ROLLBACK");
}

}  // namespace attachgate::store
