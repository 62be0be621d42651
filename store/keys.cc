// store/keys.cc - see keys.h.
#include "store/keys.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs_sync.h"

namespace attachgate::store {
namespace {

constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "agkeys01";
enum : std::uint64_t { kBlobWrapId = 1, kTokenHashId = 2, kOutboxSealId = 3 };

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

Result<KeyRing> KeyRing::load_or_create(const std::string& state_dir) {
  init_sodium();
  if (auto s = make_dirs(state_dir, 0700); !s) return s.error();
  const std::string path = state_dir + "/master.key";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return make_error(errno_text("cannot stat " + path));
    if (auto s = create_master(path, state_dir); !s) return s.error();
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return make_error(errno_text("cannot open " + path));
  if (::fstat(fd.get(), &st) != 0) return make_error(errno_text("cannot stat " + path));
  if (!S_ISREG(st.st_mode)) return make_error(path + ": not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(path + ": mode " + mode +
                      " lets other users read the master key; refusing to start "
                      "(fix with: chmod 600 " + path + ")");
  }
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
  sodium_memzero(master.data(), master.size());
  return ring;
}

}  // namespace attachgate::store
