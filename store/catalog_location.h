// store/catalog_location.h - where the catalog lives: [catalog] in the
// service config.
//
// url "" (the default) is <state_dir>/catalog.db; "sqlite:PATH" another
// SQLite file; "postgresql://user@host:port/db?sslmode=..." a PostgreSQL
// database shared by every node. A PostgreSQL password never sits in the
// URL or the TOML: it comes from password_file (one line, a file only its
// owner can read) or from libpq's own PGPASSWORD / PGPASSFILE.
#pragma once

#include <optional>
#include <string>

#include "util/result.h"

namespace attachgate::store {

struct CatalogLocation {
  std::string url;            // "": <state_dir>/catalog.db
  std::string password_file;  // "": none (libpq's environment applies)
};

// The SQLite file or PostgreSQL URL to open for state_dir.
std::string catalog_url(const CatalogLocation& location, const std::string& state_dir);
// password_file's first line, or none when no file is named. A file others
// may read, or that cannot be read, is an Error that says so.
Result<std::optional<std::string>> load_catalog_password(const CatalogLocation& location);

}  // namespace attachgate::store
