// store/store.h - everything under one state directory, opened together.
//
// Opening finds the master key (master_key_file: the state directory's
// master.key by default, or a file or systemd credential elsewhere),
// refuses a key file others can read and a key that is not the catalog's
// (its check value differs), creates what is missing, migrates the catalog,
// and hands back the parts.
// Layout: <state_dir>/catalog.db, <state_dir>/blobs/ (unless [blobs] url
// says otherwise), and by default
// <state_dir>/master.key.
#pragma once

#include <memory>
#include <string>

#include "store/blob_store.h"
#include "store/catalog.h"
#include "store/catalog_location.h"
#include "store/catalog_roles.h"
#include "store/keys.h"
#include "store/secrets.h"

namespace attachgate::store {

struct Store {
  KeyRing keys;
  BlobStore blobs;
  Catalog catalog;
  TokenHasher tokens;

  // master_key_file as in locate_master_key() (keys.h); $CREDENTIALS_DIRECTORY
  // is read from the environment. catalog_location: [catalog]
  // (catalog_location.h), by default <state_dir>/catalog.db; blobs: where
  // blobs live (blob_backend.h), by default <state_dir>/blobs.
  static Result<std::unique_ptr<Store>> open(const std::string& state_dir,
                                             const std::string& master_key_file = "",
                                             const CatalogLocation& catalog_location = {},
                                             const BlobsConfig& blobs = {});
};

// What one role is handed of the store: the blobs, the token hasher, and
// only its own part of the catalog (catalog_roles.h), so the compiler keeps
// each component to what its role does. From a Store, or from parts (a
// test's own catalog).
template <class CatalogRole>
struct StoreFor {
  const BlobStore& blobs;
  CatalogRole& catalog;
  const TokenHasher& tokens;

  StoreFor(const BlobStore& b, CatalogRole& c, const TokenHasher& t)
      : blobs(b), catalog(c), tokens(t) {}
  StoreFor(Store& store)  // not explicit: a Store serves every role
      : blobs(store.blobs), catalog(store.catalog), tokens(store.tokens) {}
};

// A "send again" request with a new token, its keyed hash and a new pixel
// id; the caller sets the bounds (max_links, latest_expiry).
ResendRequest new_resend_request(const TokenHasher& tokens, std::int64_t now, std::string by);

}  // namespace attachgate::store
