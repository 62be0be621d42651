// util/secret_file.cc - see secret_file.h.
#include "util/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>

namespace attachgate {

Result<UniqueFd> open_secret_file(const std::string& path, std::string_view what,
                                  Symlinks symlinks) {
  const int flags = O_RDONLY | O_CLOEXEC | (symlinks == Symlinks::refuse ? O_NOFOLLOW : 0);
  UniqueFd fd(::open(path.c_str(), flags));
  if (!fd.valid()) return make_error(errno_text("cannot open " + path));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return make_error(errno_text("cannot stat " + path));
  if (!S_ISREG(st.st_mode)) return make_error(path + ": not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(path + ": mode " + mode + " lets other users read " + std::string(what) +
                      "; refusing it (fix with: chmod 0600 " + path + ")");
  }
  return fd;
}

}  // namespace attachgate
