// store/catalog_copy.cc - see catalog_copy.h.
#include "store/catalog_copy.h"

#include <optional>
#include <string>
#include <vector>

#include "util/text.h"

namespace attachgate::store {
namespace {

// One column's value, as read: null, an integer, or text / bytes.
struct Value {
  bool null = true;
  std::int64_t integer = 0;
  std::string text;
};
using Row = std::vector<Value>;

std::string quoted(const char* name) { return std::string("\"") + name + "\""; }

std::string column_list(const TableColumns& t, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) out += (i ? ", " : "") + quoted(t.columns[i].name);
  return out;
}
std::string all_columns(const TableColumns& t) { return column_list(t, t.columns.size()); }
std::string key_columns(const TableColumns& t) {
  return column_list(t, static_cast<std::size_t>(t.key_columns));
}
// "?1" or "(?1, ?2)", numbered from first.
std::string params(int count, int first = 1) {
  std::string out;
  for (int i = 0; i < count; ++i) out += (i ? ", ?" : "?") + std::to_string(first + i);
  return count == 1 ? out : "(" + out + ")";
}
std::string key_tuple(const TableColumns& t) {
  return t.key_columns == 1 ? key_columns(t) : "(" + key_columns(t) + ")";
}

bool integer_key(const TableColumns& t) {
  for (int i = 0; i < t.key_columns; ++i)
    if (t.columns[static_cast<std::size_t>(i)].type != ColumnType::integer) return false;
  return true;
}

Row read_row(const Stmt& st, const TableColumns& t) {
  Row row(t.columns.size());
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    const int col = static_cast<int>(i);
    Value& v = row[i];
    v.null = st.is_null(col);
    if (v.null) continue;
    if (t.columns[i].type == ColumnType::integer) v.integer = st.int64(col);
    else v.text = st.text(col);
  }
  return row;
}

void bind_value(Stmt& st, int param, const Value& v, ColumnType type) {
  if (v.null) {
    st.bind_null(param, type == ColumnType::integer ? SqlType::integer
                        : type == ColumnType::text  ? SqlType::text
                                                    : SqlType::bytes);
  } else if (type == ColumnType::integer) {
    st.bind(param, v.integer);
  } else if (type == ColumnType::text) {
    st.bind(param, std::string_view(v.text));
  } else {
    st.bind_blob(param, v.text);
  }
}

// Binds the row's key to ?first.. in key order.
void bind_key(Stmt& st, const Row& row, const TableColumns& t, int first = 1) {
  for (int i = 0; i < t.key_columns; ++i)
    bind_value(st, first + i, row[static_cast<std::size_t>(i)], t.columns[static_cast<std::size_t>(i)].type);
}

std::string key_text(const Row& row, const TableColumns& t) {
  std::string out;
  for (int i = 0; i < t.key_columns; ++i) {
    const Value& v = row[static_cast<std::size_t>(i)];
    out += std::string(i ? ", " : "") + t.columns[static_cast<std::size_t>(i)].name + " " +
           (v.null ? "NULL"
            : t.columns[static_cast<std::size_t>(i)].type == ColumnType::integer
                ? std::to_string(v.integer)
                : "\"" + v.text + "\"");
  }
  return out;
}

// Equal as the destination keeps them: PostgreSQL text holds no invalid
// UTF-8 nor NUL (sql_postgres.cc replaces them), so such a source text is
// not compared there.
bool same_row(const Row& source, const Row& destination, const TableColumns& t, Engine engine) {
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    const Value& a = source[i];
    const Value& b = destination[i];
    if (a.null != b.null) return false;
    if (a.null) continue;
    switch (t.columns[i].type) {
      case ColumnType::integer:
        if (a.integer != b.integer) return false;
        break;
      case ColumnType::text:
        if (engine == Engine::postgres &&
            (!valid_utf8(a.text) || a.text.find('\0') != std::string::npos))
          break;
        if (a.text != b.text) return false;
        break;
      case ColumnType::bytes:
        if (a.text != b.text) return false;
        break;
    }
  }
  return true;
}

// The row of `db` whose key is `key`'s, if any.
Result<std::optional<Row>> find_row(Db& db, const TableColumns& t, const Row& key) {
  std::string sql = "SELECT " + all_columns(t) + " FROM " + table_name(t.table) + " WHERE ";
  for (int i = 0; i < t.key_columns; ++i)
    sql += std::string(i ? " AND " : "") + quoted(t.columns[static_cast<std::size_t>(i)].name) +
           " = ?" + std::to_string(i + 1);
  Stmt st(db, sql.c_str());
  bind_key(st, key, t);
  auto row = st.step();
  if (!row) return row.error();
  if (!*row) return std::optional<Row>();
  return std::optional<Row>(read_row(st, t));
}

// Up to `limit` rows after `after` (from the first without), in key order.
Result<std::vector<Row>> rows_after(Db& db, const TableColumns& t, const std::optional<Row>& after,
                                    int limit, bool descending = false) {
  std::string order;
  for (int i = 0; i < t.key_columns; ++i)
    order += std::string(i ? ", " : "") + quoted(t.columns[static_cast<std::size_t>(i)].name) +
             (descending ? " DESC" : "");
  std::string sql = "SELECT " + all_columns(t) + " FROM " + table_name(t.table);
  if (after) sql += " WHERE " + key_tuple(t) + " > " + params(t.key_columns);
  // Parameters are numbered without gaps: PostgreSQL must see each one used.
  const int limit_param = after ? t.key_columns + 1 : 1;
  sql += " ORDER BY " + order + " LIMIT ?" + std::to_string(limit_param);
  Stmt st(db, sql.c_str());
  if (after) bind_key(st, *after, t);
  st.bind(limit_param, static_cast<std::int64_t>(limit));
  std::vector<Row> rows;
  for (;;) {
    auto more = st.step();
    if (!more) return more.error();
    if (!*more) return rows;
    rows.push_back(read_row(st, t));
  }
}

Error foreign(const TableColumns& t, const Row& row) {
  return make_error(
      std::string("the destination catalog already holds data that is not this installation's (") +
      table_name(t.table) + " row " + key_text(row, t) +
      " differs or is not in the source). migrate-store copies into an empty catalog, or resumes "
      "its own earlier run with the source unchanged since (attachgate stopped). Point "
      "--to-catalog at an empty database, or drop the destination's tables, and run it again");
}

Status check_key_check(Db& source, Db& destination) {
  const TableColumns& t = columns_of(CatalogTable::key_check);
  Row key(t.columns.size());
  key[0] = Value{false, 1, {}};
  auto theirs = find_row(destination, t, key);
  if (!theirs) return theirs.error();
  if (!*theirs) return {};
  auto ours = find_row(source, t, key);
  if (!ours) return ours.error();
  if (!*ours || (*ours)->at(1).text != (*theirs)->at(1).text)
    return make_error(
        "the destination catalog has a master key check value that is not this installation's: "
        "it belongs to another master key, and attachgate would refuse this installation's key "
        "there. Point --to-catalog at an empty database (the same master key file serves both)");
  return {};
}

// The highest event id the source gave out: SQLite's AUTOINCREMENT
// remembers ids of events since forgotten, and the webhook cursor may
// point past the last event left.
Result<std::int64_t> event_id_floor(Db& source) {
  std::int64_t floor = 0;
  if (source.engine() == Engine::sqlite) {
    Stmt st(source, "SELECT seq FROM sqlite_sequence WHERE name = 'events'");
    auto row = st.step();
    if (!row) return row.error();
    if (*row) floor = st.int64(0);
  }
  Stmt cursor(source, "SELECT last_event_id FROM webhook_cursor WHERE id = 1");
  auto row = cursor.step();
  if (!row) return row.error();
  if (*row && cursor.int64(0) > floor) floor = cursor.int64(0);
  return floor;
}

}  // namespace

Result<std::int64_t> count_rows(Db& db, CatalogTable table) {
  const std::string sql = std::string("SELECT count(*) FROM ") + table_name(table);  // ours
  Stmt st(db, sql.c_str());
  auto row = st.step();
  if (!row) return row.error();
  return st.int64(0);
}

Status CatalogCopier::check_destination() {
  if (auto s = check_key_check(source_, destination_); !s) return s;
  for (CatalogTable table : kCopyOrder) {
    const TableColumns& t = columns_of(table);
    auto held = count_rows(destination_, table);
    if (!held) return held.error();
    if (*held == 0) continue;
    // Integer keys were copied in order: the destination holds a prefix of
    // the source, ending at its last row. Other tables (a few rows) are
    // compared whole.
    const bool prefix = integer_key(t);
    auto rows = rows_after(destination_, t, std::nullopt, prefix ? 1 : 1'000'000, prefix);
    if (!rows) return rows.error();
    for (const Row& theirs : *rows) {
      auto ours = find_row(source_, t, theirs);
      if (!ours) return ours.error();
      if (!*ours || !same_row(**ours, theirs, t, destination_.engine())) return foreign(t, theirs);
    }
    if (!prefix) continue;
    const std::string sql = std::string("SELECT count(*) FROM ") + table_name(table) + " WHERE " +
                            key_tuple(t) + " <= " + params(t.key_columns);
    Stmt upto(source_, sql.c_str());
    bind_key(upto, rows->front(), t);
    auto row = upto.step();
    if (!row) return row.error();
    if (upto.int64(0) != *held) return foreign(t, rows->front());
  }
  return {};
}

Result<TableCopyReport> CatalogCopier::copy_table(CatalogTable table, const Progress& progress) {
  const TableColumns& t = columns_of(table);
  TableCopyReport report;
  report.table = table;
  auto total = count_rows(source_, table);
  if (!total) return total.error();
  report.source_rows = *total;
  auto held = count_rows(destination_, table);
  if (!held) return held.error();
  report.already = *held;

  std::optional<Row> after;
  if (integer_key(t) && *held > 0) {
    auto last = rows_after(destination_, t, std::nullopt, 1, true);
    if (!last) return last.error();
    after = last->front();
  }
  const int n = static_cast<int>(t.columns.size());
  const std::string sql = std::string("INSERT INTO ") + table_name(table) + " (" + all_columns(t) +
                          ") VALUES " + (n == 1 ? "(" + params(n) + ")" : params(n)) +
                          " ON CONFLICT DO NOTHING";
  for (;;) {
    auto rows = rows_after(source_, t, after, batch_rows_);
    if (!rows) return rows.error();
    if (rows->empty()) break;
    Transaction tx(destination_);
    if (auto s = tx.begin(); !s) return s.error();
    std::int64_t inserted = 0;
    for (const Row& row : *rows) {
      Stmt st(destination_, sql.c_str());
      for (std::size_t i = 0; i < t.columns.size(); ++i)
        bind_value(st, static_cast<int>(i) + 1, row[i], t.columns[i].type);
      if (auto s = st.run(); !s)
        return make_error(std::string(table_name(table)) + " row " + key_text(row, t) + ": " +
                          s.error().message);
      inserted += destination_.changes();
    }
    if (auto s = tx.commit(); !s) return s.error();
    report.copied += inserted;
    after = rows->back();
    if (progress) progress(report);
  }
  return report;
}

Status CatalogCopier::finish() {
  auto floor = event_id_floor(source_);
  if (!floor) return floor.error();
  Transaction tx(destination_);
  if (auto s = tx.begin(); !s) return s;
  if (destination_.engine() == Engine::postgres) {
    for (CatalogTable table : kCopyOrder) {
      const TableColumns& t = columns_of(table);
      if (!t.assigned_id) continue;
      const std::string name = table_name(table);
      const std::string sql =
          "SELECT setval(pg_get_serial_sequence('" + name + "', 'id'), "
          "GREATEST(COALESCE(max(id), 0), ?1, 1), GREATEST(COALESCE(max(id), 0), ?1) >= 1) FROM " +
          name;
      Stmt st(destination_, sql.c_str());
      st.bind(1, table == CatalogTable::events ? *floor : std::int64_t{0});
      if (auto s = st.run(); !s) return s;
    }
  } else if (*floor > 0) {
    Stmt add(destination_,
             "INSERT INTO sqlite_sequence (name, seq) SELECT 'events', ?1"
             " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events')");
    if (auto s = add.bind(1, *floor).run(); !s) return s;
    Stmt raise(destination_, "UPDATE sqlite_sequence SET seq = max(seq, ?1) WHERE name = 'events'");
    if (auto s = raise.bind(1, *floor).run(); !s) return s;
  }
  return tx.commit();
}

}  // namespace attachgate::store
