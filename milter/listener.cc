// milter/listener.cc - see listener.h.
#include "milter/listener.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "util/log.h"

namespace attachgate::milter {
namespace {

std::string group_name(gid_t gid) {
  group gr{};
  group* found = nullptr;
  std::vector<char> buf(4096);
  if (::getgrgid_r(gid, &gr, buf.data(), buf.size(), &found) == 0 && found != nullptr)
    return found->gr_name;
  return std::to_string(gid);
}

// Why group read-write is safe: connecting to a unix socket takes search
// permission on every directory above it, so the directory decides who gets
// that far. The default socket (unix:./var/milter.sock, with the default
// state_dir ./var) sits inside the 0700 state directory, where the group
// bits let nobody new in; the documented one sits in
// /var/spool/postfix/attachgate, 2750 attachgate:postfix, so the socket
// takes group postfix from the setgid directory and only Postfix's daemons
// get in. Others get no bit either way.
// chmod takes a path: on Linux fchmod() on a socket descriptor does not
// change the file bind() made. AT_SYMLINK_NOFOLLOW, so that a path swapped
// for a symlink is refused rather than followed to what it points at.
Status make_group_connectable(const sockaddr_un& addr, socklen_t len) {
  const std::size_t max = len > offsetof(sockaddr_un, sun_path)
                              ? len - offsetof(sockaddr_un, sun_path) : 0;
  const std::string path(addr.sun_path, ::strnlen(addr.sun_path, std::min(max, sizeof addr.sun_path)));
  if (path.empty()) return {};  // unnamed or abstract: there is no file
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    return make_error("milter socket " + path + ": " + std::strerror(errno));
  if (!S_ISSOCK(st.st_mode)) return make_error("milter socket " + path + " is no longer a socket");
  if (::fchmodat(AT_FDCWD, path.c_str(), kUnixSocketMode, AT_SYMLINK_NOFOLLOW) != 0)
    return make_error("cannot chmod milter socket " + path + ": " + std::strerror(errno));
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(kUnixSocketMode));
  log_info("milter socket " + path + " mode " + mode + ", group " + group_name(st.st_gid));
  return {};
}

Status set_nodelay(int fd) {
  int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
    return make_error(std::string("cannot set TCP_NODELAY on the milter socket: ") +
                      std::strerror(errno));
  return {};
}

// Prepares fd if it is a listening socket; nullopt if it is none.
std::optional<Status> prepare(int fd) {
  int listening = 0;
  socklen_t len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
    return std::nullopt;
  sockaddr_storage addr{};
  socklen_t addr_len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) return std::nullopt;
  switch (addr.ss_family) {
    case AF_INET:
    case AF_INET6:
      return set_nodelay(fd);
    case AF_UNIX:
      return make_group_connectable(reinterpret_cast<const sockaddr_un&>(addr), addr_len);
    default:
      return std::nullopt;
  }
}

}  // namespace

Result<int> prepare_listeners() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return make_error(std::string("/proc/self/fd: ") + std::strerror(errno));
  int prepared = 0;
  std::optional<Error> first_failure;
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == ::dirfd(dir)) continue;
    std::optional<Status> s = prepare(static_cast<int>(fd));
    if (!s) continue;
    if (*s) ++prepared;
    else if (!first_failure) first_failure = s->error();
  }
  ::closedir(dir);
  if (first_failure) return *first_failure;
  return prepared;
}

}  // namespace attachgate::milter
