// store/store.cc - see store.h.
#include "store/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs_sync.h"

namespace attachgate::store {
namespace {

// The catalog names senders, recipients and files: only we may read it.
// SQLite gives its -wal and -shm files the database file's mode, so making
// the database 0600 (before SQLite creates it, and again if someone widened
// it) keeps all three private whatever the umask.
Status make_private(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return make_error(errno_text("cannot open " + path));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return make_error(errno_text("cannot stat " + path));
  if ((st.st_mode & 077) != 0 && ::fchmod(fd.get(), 0600) != 0)
    return make_error(errno_text("cannot make " + path + " private (chmod 0600)"));
  return {};
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& state_dir) {
  auto keys = KeyRing::load_or_create(state_dir);
  if (!keys) return keys.error();
  auto blobs = BlobStore::open(state_dir, *keys);
  if (!blobs) return blobs.error();
  if (auto s = make_private(state_dir + "/catalog.db"); !s) return s.error();
  auto catalog = Catalog::open(state_dir + "/catalog.db");
  if (!catalog) return catalog.error();
  if (auto s = catalog->set_outbox_key(keys->outbox_seal_key()); !s)
    return make_error(state_dir + "/catalog.db: " + s.error().message);
  TokenHasher tokens(keys->token_hash_key());
  return std::unique_ptr<Store>(new Store{std::move(*keys), std::move(*blobs),
                                          std::move(*catalog), tokens});
}

}  // namespace attachgate::store
