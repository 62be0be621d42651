// store/catalog_location.cc - see catalog_location.h.
#include "store/catalog_location.h"

#include <unistd.h>

#include "util/fs_sync.h"
#include "util/secret_file.h"

namespace attachgate::store {

std::string catalog_url(const CatalogLocation& location, const std::string& state_dir) {
  return location.url.empty() ? state_dir + "/catalog.db" : location.url;
}

Result<std::optional<std::string>> load_catalog_password(const CatalogLocation& location) {
  if (location.password_file.empty()) return std::optional<std::string>();
  const std::string& path = location.password_file;
  auto fd = open_secret_file(path, "the catalog's password");
  if (!fd) return make_error("[catalog] password_file: " + fd.error().message);
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd->get(), buf, sizeof buf);
    if (n < 0) return make_error(errno_text("cannot read " + path));
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > 64 * 1024) return make_error(path + ": too long for a password file");
  }
  text = text.substr(0, text.find('\n'));
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) return make_error(path + ": empty; put the catalog's password on its first line");
  return std::optional<std::string>(std::move(text));
}

}  // namespace attachgate::store
