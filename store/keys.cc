// store/keys.cc - see keys.h.
#include "store/keys.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs_sync.h"
#include "util/secret_file.h"

namespace attachgate::store {
namespace {

constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "agkeys01";
enum : std::uint64_t { kBlobWrapId = 1, kTokenHashId = 2, kOutboxSealId = 3 };
constexpr std::string_view kCheckLabel = "attachgate master key check v1";

Status create_master(const std::string& path, const std::string& dir) {
  Key key;
  randombytes_buf(key.data(), key.size());
  // Each process writes its own temporary file: with one shared name, two
  // processes starting together (the roles of `attachgate run`) truncate each
  // other's key and the loser's link() finds the file already gone.
  std::string tmp = path + ".XXXXXX";
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd.valid()) return make_error(errno_text("cannot create a file in " + dir));
  ::fchmod(fd.get(), 0600);  // umask must not widen or narrow what we promise
  if (auto s = write_all(fd.get(), key.data(), key.size()); !s) return s;
  if (auto s = fsync_fd(fd.get(), tmp); !s) return s;
  sodium_memzero(key.data(), key.size());
  // link() refuses to replace an existing key, so two processes starting
  // together cannot each create and use a different master key.
  const bool linked = ::link(tmp.c_str(), path.c_str()) == 0 || errno == EEXIST;
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (!linked) {
    errno = link_errno;
    return make_error(errno_text("cannot install " + path));
  }
  return fsync_dir(dir);
}

}  // namespace

void init_sodium() {
  if (sodium_init() < 0) panic("libsodium could not be initialised");
}

Result<KeyLocation> locate_master_key(const std::string& master_key_file,
                                      const std::string& state_dir,
                                      const char* credentials_directory) {
  if (master_key_file.empty()) return KeyLocation{state_dir + "/master.key", true};
  const std::string prefix = kCredentialPrefix;
  if (master_key_file.rfind(prefix, 0) != 0) return KeyLocation{master_key_file, false};
  const std::string name = master_key_file.substr(prefix.size());
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    return make_error("master_key_file \"" + master_key_file +
                      "\": a credential name is one path component, e.g. credential:master.key");
  if (credentials_directory == nullptr || *credentials_directory == '\0')
    return make_error("master_key_file \"" + master_key_file +
                      "\" names a systemd credential, but $CREDENTIALS_DIRECTORY is not set: "
                      "run under the unit with LoadCredential=" + name +
                      ":/path/to/key (contrib/systemd/attachgate.service), or for an admin "
                      "command set CREDENTIALS_DIRECTORY to the directory that holds " + name);
  return KeyLocation{std::string(credentials_directory) + "/" + name, false};
}

Result<KeyRing> KeyRing::load_or_create(const std::string& state_dir) {
  if (auto s = make_dirs(state_dir, 0700); !s) return s.error();
  return load(KeyLocation{state_dir + "/master.key", true});
}

Result<KeyRing> KeyRing::load(const KeyLocation& where) {
  init_sodium();
  const std::string& path = where.path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return make_error(errno_text("cannot stat " + path));
    if (!where.may_create)
      return make_error(path + ": no master key there; put the key this state directory was "
                        "created with there, or for a new state directory make one: "
                        "(umask 077; head -c 32 /dev/urandom > " + path + ")");
    const auto slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
    if (auto s = create_master(path, dir); !s) return s.error();
  }
  auto opened = open_secret_file(path, "the master key", Symlinks::refuse);
  if (!opened) return opened.error();
  UniqueFd fd = std::move(*opened);
  Key master;
  auto got = read_full(fd.get(), master.data(), master.size());
  if (!got) return got.error();
  unsigned char extra;
  auto more = read_full(fd.get(), &extra, 1);
  if (!more) return more.error();
  if (*got != master.size() || *more != 0)
    return make_error(path + ": must hold exactly 32 bytes; it is damaged (restore it from backup)");

  KeyRing ring;
  crypto_kdf_derive_from_key(ring.blob_wrap_.data(), ring.blob_wrap_.size(), kBlobWrapId,
                             kKdfContext, master.data());
  crypto_kdf_derive_from_key(ring.token_hash_.data(), ring.token_hash_.size(), kTokenHashId,
                             kKdfContext, master.data());
  crypto_kdf_derive_from_key(ring.outbox_seal_.data(), ring.outbox_seal_.size(), kOutboxSealId,
                             kKdfContext, master.data());
  ring.check_.assign(crypto_auth_hmacsha256_BYTES, '\0');
  crypto_auth_hmacsha256(reinterpret_cast<unsigned char*>(ring.check_.data()),
                         reinterpret_cast<const unsigned char*>(kCheckLabel.data()),
                         kCheckLabel.size(), master.data());
  sodium_memzero(master.data(), master.size());
  return ring;
}

}  // namespace attachgate::store
