// store/catalog_columns.h - every catalog table's columns, typed, for code
// that moves whole rows (catalog_copy.h) rather than records.
//
// The same columns, in the same order, as the schema of the latest version
// on either engine (catalog_schema.h, catalog_schema_postgres.h); a test
// compares them with the SQLite schema, so a migration that adds a column
// fails until it is listed here. A column's type says how its values are
// read and bound: integer, text, or bytes (BLOB / BYTEA).
#pragma once

#include <span>

#include "store/catalog_records.h"

namespace attachgate::store {

enum class ColumnType { integer, text, bytes };

struct Column {
  const char* name;
  ColumnType type;
};

struct TableColumns {
  CatalogTable table;
  std::span<const Column> columns;
  // The first key_columns columns are the table's primary key.
  int key_columns = 1;
  // Its key is one id the engine assigns (SQLite's rowid, a PostgreSQL
  // identity column whose sequence must move past copied ids).
  bool assigned_id = false;
};

const TableColumns& columns_of(CatalogTable table);

// The tables in an order that inserts no row before the rows it refers to.
// key_check comes first, so a half-copied catalog already refuses a
// different master key.
inline constexpr CatalogTable kCopyOrder[] = {
    CatalogTable::key_check,      CatalogTable::messages,   CatalogTable::recipients,
    CatalogTable::files,          CatalogTable::links,      CatalogTable::link_files,
    CatalogTable::downloads,      CatalogTable::download_files, CatalogTable::events,
    CatalogTable::outbox,         CatalogTable::watch_position, CatalogTable::webhook_cursor,
};

}  // namespace attachgate::store
