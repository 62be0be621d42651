// Tests milter/listener.cc: a unix listener's file becomes 0660 whatever the
// umask, a TCP listener gets TCP_NODELAY (and passes it on), a socket that
// does not listen is left alone, and a path swapped for a symlink is refused.
#include "milter/listener.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/support/temp_dir.h"
#include "util/fs_sync.h"

namespace attachgate::milter {
namespace {

// Sets the umask for one test and puts the old one back.
class Umask {
 public:
  explicit Umask(mode_t mask) : old_(::umask(mask)) {}
  ~Umask() { ::umask(old_); }

 private:
  mode_t old_;
};

int bind_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
  return fd;
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

int nodelay(int fd) {
  int value = -1;
  socklen_t len = sizeof value;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &len) != 0) return -1;
  return value;
}

TEST(Listener, UnixSocketBecomesGroupConnectableUnderUmask077) {
  attachgate::testing::TempDir dir;
  const std::string path = dir / "milter.sock";
  Umask mask(077);
  UniqueFd fd(bind_unix(path));
  ASSERT_EQ(::listen(fd.get(), 8), 0);
  ASSERT_EQ(mode_of(path), 0700u);  // what libmilter leaves under UMask=0077

  Result<int> prepared = prepare_listeners();

  ASSERT_TRUE(prepared.ok()) << prepared.error().message;
  EXPECT_EQ(*prepared, 1);
  EXPECT_EQ(mode_of(path), 0660u);
  EXPECT_EQ(mode_of(path), kUnixSocketMode);
}

TEST(Listener, TcpListenerGetsNodelayAndKeepsTheRest) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd.get(), 8), 0);
  ASSERT_EQ(nodelay(fd.get()), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);

  Result<int> prepared = prepare_listeners();

  ASSERT_TRUE(prepared.ok()) << prepared.error().message;
  EXPECT_EQ(*prepared, 1);
  EXPECT_NE(nodelay(fd.get()), 0);
  int listening = 0;
  len = sizeof listening;
  ASSERT_EQ(::getsockopt(fd.get(), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len), 0);
  EXPECT_EQ(listening, 1);
  // The point of setting it on the listener: each accepted connection has it.
  UniqueFd client(::socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_EQ(::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  UniqueFd accepted(::accept(fd.get(), nullptr, nullptr));
  ASSERT_GE(accepted.get(), 0);
  EXPECT_NE(nodelay(accepted.get()), 0);
}

TEST(Listener, LeavesSocketsThatDoNotListenAlone) {
  attachgate::testing::TempDir dir;
  const std::string path = dir / "not-listening.sock";
  Umask mask(077);
  UniqueFd fd(bind_unix(path));

  Result<int> prepared = prepare_listeners();

  ASSERT_TRUE(prepared.ok()) << prepared.error().message;
  EXPECT_EQ(*prepared, 0);
  EXPECT_EQ(mode_of(path), 0700u);
}

TEST(Listener, ReportsASocketWhoseFileIsGone) {
  attachgate::testing::TempDir dir;
  const std::string path = dir / "milter.sock";
  UniqueFd fd(bind_unix(path));
  ASSERT_EQ(::listen(fd.get(), 8), 0);
  ASSERT_EQ(::unlink(path.c_str()), 0);

  Result<int> prepared = prepare_listeners();

  ASSERT_FALSE(prepared.ok());
  EXPECT_NE(prepared.error().message.find(path), std::string::npos) << prepared.error().message;
}

// Whoever can write to the socket's directory could swap the socket for a
// symlink to a secret; the secret must not become 0660.
TEST(Listener, RefusesASocketSwappedForASymlink) {
  attachgate::testing::TempDir dir;
  const std::string path = dir / "milter.sock";
  const std::string secret = dir / "master.key";
  ASSERT_EQ(::close(::open(secret.c_str(), O_WRONLY | O_CREAT, 0600)), 0);
  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  UniqueFd fd(bind_unix(path));
  ASSERT_EQ(::listen(fd.get(), 8), 0);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_EQ(::symlink(secret.c_str(), path.c_str()), 0);

  Result<int> prepared = prepare_listeners();

  ASSERT_FALSE(prepared.ok());
  EXPECT_NE(prepared.error().message.find("no longer a socket"), std::string::npos)
      << prepared.error().message;
  EXPECT_EQ(mode_of(secret), 0600u);
}

}  // namespace
}  // namespace attachgate::milter
