// store/store.h - everything under one state directory, opened together.
//
// Opening checks the master key (refusing a key file others can read),
// creates what is missing, migrates the catalog, and hands back the parts.
// Layout: <state_dir>/master.key, <state_dir>/catalog.db, <state_dir>/blobs/.
#pragma once

#include <memory>
#include <string>

#include "store/blob_store.h"
#include "store/catalog.h"
#include "store/keys.h"
#include "store/secrets.h"

namespace attachgate::store {

struct Store {
  KeyRing keys;
  BlobStore blobs;
  Catalog catalog;
  TokenHasher tokens;

  static Result<std::unique_ptr<Store>> open(const std::string& state_dir);
};

}  // namespace attachgate::store
