// store/store.cc - see store.h.
#include "store/store.h"

namespace attachgate::store {

Result<std::unique_ptr<Store>> Store::open(const std::string& state_dir) {
  auto keys = KeyRing::load_or_create(state_dir);
  if (!keys) return keys.error();
  auto blobs = BlobStore::open(state_dir, *keys);
  if (!blobs) return blobs.error();
  auto catalog = Catalog::open(state_dir + "/catalog.db");
  if (!catalog) return catalog.error();
  TokenHasher tokens(keys->token_hash_key());
  return std::unique_ptr<Store>(new Store{std::move(*keys), std::move(*blobs),
                                          std::move(*catalog), tokens});
}

}  // namespace attachgate::store
