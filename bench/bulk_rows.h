// bench/bulk_rows.h - many rows into one catalog table, fast, on either
// engine: rows are buffered and written as multi-row INSERTs of kRowsPer
// rows with their values bound (never pasted), so a round trip to
// PostgreSQL carries kRowsPer rows, not one. Each statement is prepared
// afresh: sql.h's Stmt is run once (SQLite binds only after a reset).
// A benchmark tool's helper (bench/growth_seed.cc); not part of attachgate.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "store/sql.h"

namespace attachgate::bench {

struct Bytes {
  std::string data;
};
struct Null {
  store::SqlType type = store::SqlType::unknown;
};
using Value = std::variant<std::int64_t, std::string, Bytes, Null>;

class BulkRows {
 public:
  static constexpr int kRowsPer = 200;

  BulkRows(store::Db& db, std::string table, std::vector<std::string> columns);
  // One row, its values in the order of the columns; kept until flush().
  void add(std::vector<Value> row);
  // Writes what is buffered, kRowsPer rows a statement. The caller flushes
  // parent tables before their children: PostgreSQL checks each foreign
  // key at the end of its statement.
  [[nodiscard]] Status flush();
  std::int64_t rows() const { return rows_; }

 private:
  std::string insert_sql(int rows) const;
  Status write(int rows);

  store::Db& db_;
  std::string table_;
  std::vector<std::string> columns_;
  std::vector<Value> buffered_;
  std::int64_t rows_ = 0;
};

}  // namespace attachgate::bench
