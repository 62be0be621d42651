// bench/bulk_rows.cc - see bulk_rows.h.
#include "bench/bulk_rows.h"

#include <algorithm>

namespace attachgate::bench {

BulkRows::BulkRows(store::Db& db, std::string table, std::vector<std::string> columns)
    : db_(db), table_(std::move(table)), columns_(std::move(columns)) {}

std::string BulkRows::insert_sql(int rows) const {
  std::string sql = "INSERT INTO " + table_ + " (";
  for (std::size_t c = 0; c < columns_.size(); ++c) sql += (c ? ", " : "") + columns_[c];
  sql += ") VALUES ";
  // Bare ?s, numbered in order: SQLite looks each ?NNN up in a list, which
  // makes a statement of thousands of them quadratic to prepare.
  for (int r = 0; r < rows; ++r) {
    sql += r ? ", (" : "(";
    for (std::size_t c = 0; c < columns_.size(); ++c) sql += c ? ", ?" : "?";
    sql += ")";
  }
  return sql;
}

Status BulkRows::write(int rows) {
  store::Stmt st(db_, insert_sql(rows).c_str());
  const std::size_t n = static_cast<std::size_t>(rows) * columns_.size();
  for (std::size_t i = 0; i < n; ++i) {
    const int at = static_cast<int>(i) + 1;
    const Value& v = buffered_[i];
    if (auto* x = std::get_if<std::int64_t>(&v)) st.bind(at, *x);
    else if (auto* s = std::get_if<std::string>(&v)) st.bind(at, *s);
    else if (auto* b = std::get_if<Bytes>(&v)) st.bind_blob(at, b->data);
    else st.bind_null(at, std::get<Null>(v).type);
  }
  if (auto s = st.run(); !s) return make_error(table_ + ": " + s.error().message);
  buffered_.erase(buffered_.begin(), buffered_.begin() + static_cast<std::ptrdiff_t>(n));
  rows_ += rows;
  return {};
}

void BulkRows::add(std::vector<Value> row) {
  if (row.size() != columns_.size()) panic("bulk_rows: a row of the wrong width");
  for (auto& v : row) buffered_.push_back(std::move(v));
}

Status BulkRows::flush() {
  for (;;) {
    const int rows = static_cast<int>(buffered_.size() / columns_.size());
    if (rows == 0) return {};
    if (auto s = write(std::min(rows, kRowsPer)); !s) return s;
  }
}

}  // namespace attachgate::bench
