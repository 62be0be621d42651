// store/sql.h - the catalog's SQL connection, over SQLite or PostgreSQL.
//
// Db owns a connection, Stmt a prepared statement, Transaction a write
// transaction that rolls back unless committed. The catalog's SQL is written
// once, in the dialect both engines share: numbered parameters (?1, ?2,
// which the PostgreSQL driver rewrites to $1, $2), INSERT ... ON CONFLICT,
// RETURNING, CASE rather than engine-only functions. Values are always
// bound, never pasted into SQL, so untrusted text cannot change a statement.
//
// A write transaction excludes every other writer of the catalog: SQLite's
// BEGIN IMMEDIATE takes the database's write lock; on PostgreSQL, BEGIN
// then takes one transaction-scoped advisory lock that every attachgate
// write transaction takes (kWriteLock), so a transaction that reads and
// then writes sees the same world on either engine and on any node.
// Single statements outside a transaction rely on each engine's row-level
// atomicity (a guarded UPDATE decides under the row's lock).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "store/engine.h"
#include "util/result.h"

namespace attachgate::store {

// The type a NULL parameter stands for: PostgreSQL must know it where the
// statement alone does not say (`?3 IS NULL`).
enum class SqlType { unknown, integer, text, bytes };

// What an engine's driver provides (sql_sqlite.cc, sql_postgres.cc).
class SqlStatement {
 public:
  virtual ~SqlStatement() = default;
  virtual void bind_int64(int i, std::int64_t v) = 0;
  virtual void bind_text(int i, std::string_view text) = 0;
  virtual void bind_bytes(int i, std::string_view bytes) = 0;
  virtual void bind_null(int i, SqlType type) = 0;
  virtual Result<bool> step() = 0;
  virtual std::int64_t int64(int col) const = 0;  // a boolean column reads as 0 or 1
  virtual std::string text(int col) const = 0;    // bytes columns read as their bytes
  virtual bool is_null(int col) const = 0;
};

class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  virtual Engine engine() const = 0;
  virtual Status exec(const char* sql) = 0;
  virtual std::unique_ptr<SqlStatement> prepare(const char* sql) = 0;
  virtual std::int64_t last_insert_id() = 0;
  virtual int changes() const = 0;
  virtual Status begin_write() = 0;
};

// On PostgreSQL, the advisory lock every write transaction holds (sql.h's
// comment), and the one a purge pass holds for its whole run.
inline constexpr std::int64_t kWriteLock = 0x61747467'00000001;  // "attg" 1
inline constexpr std::int64_t kPurgeLock = 0x61747467'00000002;

class Db {
 public:
  // location: "postgresql://user@host:port/db?..." (or postgres://) for
  // PostgreSQL, with the password given here (never in the URL); else a
  // SQLite file, written as a path or "sqlite:PATH".
  static Result<Db> open(const std::string& location,
                         const std::optional<std::string>& password = std::nullopt);
  // The same, for reading only: a SQLite file is opened read-only (never
  // created, never written, not even its journal mode), a PostgreSQL
  // session is made read-only.
  static Result<Db> open_read_only(const std::string& location,
                                   const std::optional<std::string>& password = std::nullopt);
  static bool is_postgres_url(std::string_view location);
  explicit Db(std::unique_ptr<SqlConnection> c) : c_(std::move(c)) {}
  Db(Db&&) noexcept = default;
  Db& operator=(Db&&) = delete;

  Engine engine() const { return c_->engine(); }
  SqlConnection& connection() const { return *c_; }
  Status exec(const char* sql) { return c_->exec(sql); }
  std::int64_t last_insert_id() const { return c_->last_insert_id(); }
  int changes() const { return c_->changes(); }

 private:
  std::unique_ptr<SqlConnection> c_;
};

class Stmt {
 public:
  Stmt(const Db& db, const char* sql) : s_(db.connection().prepare(sql)) {}  // SQL is ours: a bad statement is a panic
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::int64_t v) { s_->bind_int64(i, v); return *this; }
  Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Stmt& bind(int i, std::string_view text) { s_->bind_text(i, text); return *this; }
  Stmt& bind(int i, const char* text) { return bind(i, std::string_view(text)); }
  Stmt& bind(int i, const std::string& text) { return bind(i, std::string_view(text)); }
  Stmt& bind_blob(int i, std::string_view bytes) { s_->bind_bytes(i, bytes); return *this; }
  Stmt& bind_null(int i, SqlType type = SqlType::unknown) { s_->bind_null(i, type); return *this; }
  template <class T>
  Stmt& bind(int i, const std::optional<T>& v) {
    if (v) return bind(i, *v);
    return bind_null(i, std::is_integral_v<T> ? SqlType::integer : SqlType::text);
  }

  // true: a row is ready; false: done. Errors come back as an Error.
  Result<bool> step() { return s_->step(); }
  Status run();  // step once, expecting no row

  std::int64_t int64(int col) const { return s_->int64(col); }
  std::string text(int col) const { return s_->text(col); }
  bool is_null(int col) const { return s_->is_null(col); }
  std::optional<std::int64_t> opt_int64(int col) const;
  std::optional<std::string> opt_text(int col) const;

 private:
  std::unique_ptr<SqlStatement> s_;
};

class Transaction {
 public:
  explicit Transaction(Db& db) : db_(db) {}
  ~Transaction();
  Status begin();  // takes the write lock up front
  Status commit();

 private:
  Db& db_;
  bool open_ = false;
};

// The engines' drivers.
Result<std::unique_ptr<SqlConnection>> open_sqlite(const std::string& path, bool read_only = false);
Result<std::unique_ptr<SqlConnection>> open_postgres(const std::string& url,
                                                     const std::optional<std::string>& password);

}  // namespace attachgate::store
