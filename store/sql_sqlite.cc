// store/sql_sqlite.cc - sql.h's SQLite driver.
#include <sqlite3.h>

#include <string>

#include "store/sql.h"

namespace attachgate::store {
namespace {

class SqliteStatement final : public SqlStatement {
 public:
  SqliteStatement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db_, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      std::string what = std::string("cannot prepare SQL: ") + sqlite3_errmsg(db_) + ": " + sql;
      panic(what.c_str());
    }
  }
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }

  void bind_int64(int i, std::int64_t v) override { sqlite3_bind_int64(stmt_, i, v); }
  void bind_text(int i, std::string_view text) override {
    sqlite3_bind_text64(stmt_, i, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  }
  void bind_bytes(int i, std::string_view bytes) override {
    sqlite3_bind_blob64(stmt_, i, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  }
  void bind_null(int i, SqlType) override { sqlite3_bind_null(stmt_, i); }

  Result<bool> step() override {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return make_error(std::string("catalog: ") + sqlite3_errmsg(db_));
  }

  std::int64_t int64(int col) const override { return sqlite3_column_int64(stmt_, col); }
  std::string text(int col) const override {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    if (!p) return {};
    return std::string(reinterpret_cast<const char*>(p),
                       static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  bool is_null(int col) const override { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteConnection final : public SqlConnection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override {
    if (db_) sqlite3_close_v2(db_);
  }

  Engine engine() const override { return Engine::sqlite; }
  Status exec(const char* sql) override {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string text = msg ? msg : sqlite3_errmsg(db_);
      sqlite3_free(msg);
      return make_error("catalog: " + text);
    }
    return {};
  }
  std::unique_ptr<SqlStatement> prepare(const char* sql) override {
    return std::make_unique<SqliteStatement>(db_, sql);
  }
  std::int64_t last_insert_id() override { return sqlite3_last_insert_rowid(db_); }
  int changes() const override { return sqlite3_changes(db_); }
  Status begin_write() override { return exec("BEGIN IMMEDIATE"); }

 private:
  sqlite3* db_;
};

}  // namespace

Result<std::unique_ptr<SqlConnection>> open_sqlite(const std::string& path, bool read_only) {
  sqlite3* raw = nullptr;
  const int mode = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &raw, mode | SQLITE_OPEN_FULLMUTEX, nullptr);
  auto connection = std::make_unique<SqliteConnection>(raw);
  if (rc != SQLITE_OK)
    return make_error("cannot open catalog " + path + ": " +
                      (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  sqlite3_busy_timeout(raw, 10000);
  sqlite3_extended_result_codes(raw, 1);
  if (read_only) {
    if (auto s = connection->exec("PRAGMA query_only = ON"); !s)
      return make_error("cannot open catalog " + path + ": " + s.error().message);
  }
  return std::unique_ptr<SqlConnection>(std::move(connection));
}

}  // namespace attachgate::store
