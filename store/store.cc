// store/store.cc - see store.h.
#include "store/store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

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

// The key must be the one the catalog was made with: blobs wrapped and
// payloads sealed under another are unreadable, and new ones would be
// sealed under two keys. The first start with a key records its check value.
Status check_key(Catalog& catalog, const KeyRing& keys, const std::string& key_path,
                 const std::string& catalog_path) {
  auto recorded = catalog.adopt_key_check(keys.check_value(), std::time(nullptr));
  if (!recorded) return make_error(catalog_path + ": " + recorded.error().message);
  if (recorded->size() == keys.check_value().size() &&
      sodium_memcmp(recorded->data(), keys.check_value().data(), recorded->size()) == 0)
    return {};
  return make_error(key_path + ": this master key is not the one " + catalog_path +
                    " was made with (its key check value differs), so its files could not be "
                    "read; refusing to start. Point master_key_file at this state directory's "
                    "key, or restore that key from backup. Do not remove the catalog's check "
                    "value: files stored under two keys cannot all be read with either");
}

// A catalog from before key check values holds files but no check value:
// the key it is about to adopt must open one of them (unwrap its blob key),
// or a misplaced key would be recorded as the right one. A few are tried,
// so one damaged blob does not stop the start.
Status check_key_opens_a_blob(Catalog& catalog, const BlobStore& blobs,
                              const std::string& key_path, const std::string& catalog_path) {
  auto ids = catalog.blob_ids_in_use();
  if (!ids) return make_error(catalog_path + ": " + ids.error().message);
  std::string why;
  int tried = 0;
  for (const auto& id : *ids) {
    if (!blobs.exists(id)) continue;
    auto reader = blobs.open_blob(id);
    if (reader) return {};
    why = reader.error().message;
    if (++tried == 3) break;
  }
  if (tried == 0) return {};
  return make_error(key_path + ": this master key does not open the files " + catalog_path +
                    " lists (" + why + "); refusing to start. The catalog has no key check "
                    "value yet, so the key was tried on its files: point master_key_file at "
                    "this state directory's key, or restore that key from backup");
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& state_dir,
                                           const std::string& master_key_file,
                                           const CatalogLocation& catalog_location,
                                           const BlobsConfig& blobs_config) {
  if (auto s = make_dirs(state_dir, 0700); !s) return s.error();
  auto where = locate_master_key(master_key_file, state_dir, std::getenv("CREDENTIALS_DIRECTORY"));
  if (!where) return where.error();
  const std::string url = catalog_url(catalog_location, state_dir);
  const bool shared = Db::is_postgres_url(url);
  // For messages: a file's path, or (never the URL: it may name files)
  // "the PostgreSQL catalog".
  const std::string catalog_path = shared ? "the PostgreSQL catalog" : url;
  if (!shared)
    if (auto s = make_private(url.starts_with("sqlite:") ? url.substr(7) : url); !s) return s.error();
  auto password = load_catalog_password(catalog_location);
  if (!password) return password.error();
  auto catalog = Catalog::open(url, *password);
  if (!catalog) return catalog.error();
  // A new master key only for a new catalog: for one that already holds a
  // check value or files, a missing key is lost or misplaced, and a fresh
  // one would leave every stored file unreadable.
  auto recorded = catalog->key_check();
  if (!recorded) return make_error(catalog_path + ": " + recorded.error().message);
  auto files = catalog->count(CatalogTable::files);
  if (!files) return make_error(catalog_path + ": " + files.error().message);
  where->may_create = where->may_create && !*recorded && *files == 0;
  auto keys = KeyRing::load(*where);
  if (!keys) return keys.error();
  auto blobs = BlobStore::open(state_dir, *keys, blobs_config);
  if (!blobs) return blobs.error();
  if (!*recorded && *files > 0)
    if (auto s = check_key_opens_a_blob(*catalog, *blobs, where->path, catalog_path); !s)
      return s.error();
  if (auto s = check_key(*catalog, *keys, where->path, catalog_path); !s) return s.error();
  if (auto s = catalog->set_outbox_key(keys->outbox_seal_key()); !s)
    return make_error(catalog_path + ": " + s.error().message);
  TokenHasher tokens(keys->token_hash_key());
  return std::unique_ptr<Store>(new Store{std::move(*keys), std::move(*blobs),
                                          std::move(*catalog), tokens});
}

ResendRequest new_resend_request(const TokenHasher& tokens, std::int64_t now, std::string by) {
  ResendRequest r;
  r.token = new_token();
  r.token_hash = tokens.hash(r.token);
  r.pixel_id = new_public_id(16);
  r.now = now;
  r.by = std::move(by);
  return r;
}

}  // namespace attachgate::store
