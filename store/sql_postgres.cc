// store/sql_postgres.cc - sql.h's PostgreSQL driver, over libpq.
//
// A statement's ?N parameters become $N, and x'HEX' literals bytea ones, as
// it is prepared; values travel as typed parameters (bigint, text, bytea in
// binary), never inside the SQL. Rows come back as text and are read as the
// SQLite driver reads them: booleans as 0 or 1, bytea as its bytes. A
// connection the server dropped (a restart, a failover) is re-established
// before the next statement; a statement that fails for it is an Error, so
// the caller's tempfail or retry applies and nothing is guessed.
#include <libpq-fe.h>

#include <cctype>
#include <cstdlib>
#include <string>
#include <vector>

#include "store/sql.h"
#include "util/text.h"

namespace attachgate::store {
namespace {

// pg_type OIDs (catalog/pg_type_d.h is not in libpq-dev).
constexpr Oid kBoolOid = 16, kByteaOid = 17, kInt8Oid = 20, kTextOid = 25;

// ?N -> $N, bare ? -> the next number, x'HEX' -> '\xHEX'::bytea; text in
// quotes is left alone. *count: the highest parameter number seen.
std::string translate(const char* sql, int* count) {
  std::string out;
  int next = 0;
  *count = 0;
  for (const char* p = sql; *p;) {
    const char c = *p;
    if (c == '\'') {  // a literal: copy through its closing quote ('' stays inside)
      out += *p++;
      while (*p) {
        if (*p == '\'' && p[1] == '\'') { out += "''"; p += 2; continue; }
        if (*p == '\'') break;
        out += *p++;
      }
      if (*p) out += *p++;
      continue;
    }
    if ((c == 'x' || c == 'X') && p[1] == '\'' &&
        (out.empty() || !(std::isalnum(static_cast<unsigned char>(out.back())) || out.back() == '_'))) {
      const char* end = p + 2;
      while (std::isxdigit(static_cast<unsigned char>(*end))) ++end;
      if (*end == '\'') {
        out += "'\\x" + std::string(p + 2, end) + "'::bytea";
        p = end + 1;
        continue;
      }
    }
    if (c == '?') {
      ++p;
      int n = 0;
      if (std::isdigit(static_cast<unsigned char>(*p))) {
        while (std::isdigit(static_cast<unsigned char>(*p))) n = n * 10 + (*p++ - '0');
      } else {
        n = ++next;
      }
      if (n > *count) *count = n;
      out += '$' + std::to_string(n);
      continue;
    }
    out += *p++;
  }
  return out;
}

struct Param {
  std::optional<std::string> value;
  Oid type = 0;
  int format = 0;  // 0 text, 1 binary
};

class PgConnection;

class PgStatement final : public SqlStatement {
 public:
  PgStatement(PgConnection& c, const char* sql) : c_(c) {
    sql_ = translate(sql, &count_);
    params_.resize(static_cast<std::size_t>(count_));
  }
  ~PgStatement() override { PQclear(result_); }

  void bind_int64(int i, std::int64_t v) override { set(i, std::to_string(v), kInt8Oid, 0); }
  // PostgreSQL's text is UTF-8 without NUL, where SQLite keeps any bytes:
  // a byte that is not (a filename in a legacy charset the MIME header did
  // not declare) becomes U+FFFD rather than an error that would tempfail
  // the mail on every retry.
  void bind_text(int i, std::string_view text) override {
    if (valid_utf8(text) && text.find('\0') == std::string_view::npos) {
      set(i, std::string(text), kTextOid, 0);
      return;
    }
    std::string clean = to_valid_utf8(text);
    for (std::size_t at; (at = clean.find('\0')) != std::string::npos;)
      clean.replace(at, 1, "\xEF\xBF\xBD");
    set(i, std::move(clean), kTextOid, 0);
  }
  void bind_bytes(int i, std::string_view bytes) override {
    set(i, std::string(bytes), kByteaOid, 1);
  }
  void bind_null(int i, SqlType type) override {
    const Oid oid = type == SqlType::integer ? kInt8Oid
                    : type == SqlType::text  ? kTextOid
                    : type == SqlType::bytes ? kByteaOid
                                             : 0;
    set(i, std::nullopt, oid, 0);
  }

  Result<bool> step() override;

  std::int64_t int64(int col) const override {
    const char* v = PQgetvalue(result_, row_, col);
    if (PQftype(result_, col) == kBoolOid) return *v == 't' ? 1 : 0;
    return std::strtoll(v, nullptr, 10);
  }
  std::string text(int col) const override {
    if (PQgetisnull(result_, row_, col)) return {};
    const char* v = PQgetvalue(result_, row_, col);
    if (PQftype(result_, col) != kByteaOid)
      return std::string(v, static_cast<std::size_t>(PQgetlength(result_, row_, col)));
    std::size_t size = 0;
    unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(v), &size);
    if (!bytes) panic("catalog: cannot decode a bytea value");
    std::string out(reinterpret_cast<const char*>(bytes), size);
    PQfreemem(bytes);
    return out;
  }
  bool is_null(int col) const override { return PQgetisnull(result_, row_, col) != 0; }

 private:
  void set(int i, std::optional<std::string> value, Oid type, int format) {
    if (i < 1 || i > count_) panic(("catalog: parameter out of range in: " + sql_).c_str());
    params_[static_cast<std::size_t>(i - 1)] = Param{std::move(value), type, format};
  }

  PgConnection& c_;
  std::string sql_;
  int count_ = 0;
  std::vector<Param> params_;
  PGresult* result_ = nullptr;
  int row_ = -1, rows_ = 0;
};

class PgConnection final : public SqlConnection {
 public:
  explicit PgConnection(PGconn* conn, std::string where) : conn_(conn), where_(std::move(where)) {}
  ~PgConnection() override { PQfinish(conn_); }

  Engine engine() const override { return Engine::postgres; }

  Status exec(const char* sql) override {
    const std::string_view text(sql);
    const bool ends = text == "COMMIT" || text == "ROLLBACK";
    if (in_transaction_ && PQstatus(conn_) != CONNECTION_OK && text == "ROLLBACK") {
      in_transaction_ = false;  // the server rolled it back when the connection went
      return {};
    }
    if (auto s = ensure_connected(); !s) return s;
    PGresult* r = PQexec(conn_, sql);
    Status status = check(r, sql);
    PQclear(r);
    if (text == "BEGIN") in_transaction_ = status.ok();
    if (ends) in_transaction_ = false;
    return status;
  }
  std::unique_ptr<SqlStatement> prepare(const char* sql) override {
    return std::make_unique<PgStatement>(*this, sql);
  }
  std::int64_t last_insert_id() override {
    PGresult* r = PQexec(conn_, "SELECT lastval()");
    std::int64_t id = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1
                          ? std::strtoll(PQgetvalue(r, 0, 0), nullptr, 10)
                          : 0;
    PQclear(r);
    return id;
  }
  int changes() const override { return changes_; }
  Status begin_write() override {
    if (auto s = exec("BEGIN"); !s) return s;
    const std::string lock = "SELECT pg_advisory_xact_lock(" + std::to_string(kWriteLock) + ")";
    if (auto s = exec(lock.c_str()); !s) {
      (void)exec("ROLLBACK");
      return s;
    }
    return {};
  }

  // For statements: runs one, recording how many rows it changed.
  Result<PGresult*> run(const std::string& sql, const std::vector<Param>& params) {
    if (auto s = ensure_connected(); !s) return s.error();
    std::vector<Oid> types;
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const Param& p : params) {
      types.push_back(p.type);
      values.push_back(p.value ? p.value->data() : nullptr);
      lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
      formats.push_back(p.format);
    }
    PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), types.data(),
                               values.data(), lengths.data(), formats.data(), 0);
    if (auto s = check(r, sql.c_str()); !s) {
      PQclear(r);
      return s.error();
    }
    return r;
  }

 private:
  // A connection the server dropped is re-established here, but never
  // inside a transaction: that transaction is gone with the connection (the
  // server rolled it back), so its later statements must fail too rather
  // than run on a new connection and commit one by one. Its ROLLBACK ends
  // it (exec), and the next statement reconnects.
  Status ensure_connected() {
    if (PQstatus(conn_) == CONNECTION_OK) return {};
    if (in_transaction_)
      return make_error("catalog: PostgreSQL at " + where_ +
                        " went away in the middle of a transaction, which it rolled back");
    PQreset(conn_);
    if (PQstatus(conn_) == CONNECTION_OK) return {};
    return make_error("catalog: PostgreSQL at " + where_ + " is unreachable: " +
                      trimmed(PQerrorMessage(conn_)) + " (is the server running?)");
  }

  Status check(PGresult* r, const char* sql) {
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      const char* n = PQcmdTuples(r);
      changes_ = n && *n ? std::atoi(n) : 0;
      return {};
    }
    // The server's primary message only: its detail and hint lines, and
    // a caret under the statement, would break the log's one line per error.
    const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    std::string message = primary ? primary : trimmed(PQerrorMessage(conn_));
    message = message.substr(0, message.find('\n'));
    if (PQstatus(conn_) != CONNECTION_OK)
      return make_error("catalog: PostgreSQL at " + where_ + " went away: " + message);
    // The statement, for whoever reads the log: values are parameters, so
    // it carries none.
    std::string statement = sql ? sql : "";
    if (statement.size() > 160) statement = statement.substr(0, 160) + "...";
    return make_error("catalog: " + message + " (in: " + statement + ")");
  }

  static std::string trimmed(const char* text) {
    std::string s = text ? text : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }

  PGconn* conn_;
  std::string where_;
  int changes_ = 0;
  bool in_transaction_ = false;  // between BEGIN and COMMIT or ROLLBACK
};

Result<bool> PgStatement::step() {
  if (row_ < 0 && !result_) {
    auto r = c_.run(sql_, params_);
    if (!r) return r.error();
    result_ = *r;
    rows_ = PQntuples(result_);
  }
  if (row_ + 1 < rows_) {
    ++row_;
    return true;
  }
  row_ = rows_;
  return false;
}

void ignore_notice(void*, const char*) {}

// The URL's host and port, for messages (never its query: it may name files).
std::string where_of(const std::string& url) {
  auto start = url.find("://");
  std::string rest = start == std::string::npos ? url : url.substr(start + 3);
  rest = rest.substr(0, rest.find_first_of("/?"));
  if (auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  return rest.empty() ? "localhost" : rest;
}

}  // namespace

Result<std::unique_ptr<SqlConnection>> open_postgres(const std::string& url,
                                                     const std::optional<std::string>& password) {
  {
    const auto start = url.find("://") + 3;
    const auto end = url.find_first_of("/?", start);
    const std::string authority = url.substr(start, end == std::string::npos ? end : end - start);
    const auto at = authority.rfind('@');
    if (at != std::string::npos && authority.substr(0, at).find(':') != std::string::npos)
      return make_error(
          "catalog url has a password in it; remove it and set [catalog] password_file, or "
          "PGPASSWORD in the environment");
  }
  const std::string where = where_of(url);
  std::vector<const char*> keys = {"dbname", "application_name", "connect_timeout"};
  std::vector<const char*> values = {url.c_str(), "attachgate", "10"};
  if (password) {
    keys.push_back("password");
    values.push_back(password->c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keys.data(), values.data(), 1);
  if (!conn) return make_error("catalog: out of memory connecting to PostgreSQL");
  auto connection = std::make_unique<PgConnection>(conn, where);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = PQerrorMessage(conn);
    while (!why.empty() && why.back() == '\n') why.pop_back();
    return make_error("cannot open catalog at PostgreSQL " + where + ": " + why);
  }
  PQsetNoticeProcessor(conn, ignore_notice, nullptr);
  return std::unique_ptr<SqlConnection>(std::move(connection));
}

}  // namespace attachgate::store
