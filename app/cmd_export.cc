// app/cmd_export.cc - `attachgate export FILE_ID`: write a stored file's
// decrypted bytes to a path or stdout, for admins and tests. The blob is
// authenticated as it streams; a tampered blob stops with an error and the
// partial output file is removed.
#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "app/commands.h"
#include "store/store.h"

namespace attachgate::app {

Runner add_export_command(CLI::App& app, GlobalOptions& options) {
  auto* sub = app.add_subcommand("export", "Write the decrypted bytes of a stored file");
  static std::string id, out_path;
  sub->add_option("FILE_ID", id, "File id (see attachgate show)")->required();
  sub->add_option("-o,--output", out_path, "Output file (default: standard output)");
  return [&options] {
    auto store = open_store(options);
    if (!store) {
      std::cerr << store.error().message << "\n";
      return 2;
    }
    auto file = (*store)->catalog.find_file(id);
    if (!file || !*file) {
      std::cerr << "attachgate: no file with id '" << id << "' (see attachgate show)\n";
      return 1;
    }
    auto reader = (*store)->blobs.open_blob((*file)->blob_id);
    if (!reader) {
      std::cerr << "attachgate: " << reader.error().message << "\n";
      return 1;
    }
    // The decrypted file is as private as the blob was: 0600, not the umask.
    FILE* out = stdout;
    if (!out_path.empty()) {
      const int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      out = fd >= 0 ? ::fdopen(fd, "wb") : nullptr;
      if (!out && fd >= 0) ::close(fd);
    }
    if (!out) {
      std::cerr << "attachgate: cannot write " << out_path << "\n";
      return 2;
    }
    std::vector<char> buf(1 << 16);
    bool ok = true;
    for (;;) {
      auto n = reader->read(buf.data(), buf.size());
      if (!n) {
        std::cerr << "attachgate: " << n.error().message << "\n";
        ok = false;
        break;
      }
      if (*n == 0) break;
      if (std::fwrite(buf.data(), 1, *n, out) != *n) {
        std::cerr << "attachgate: write failed\n";
        ok = false;
        break;
      }
    }
    // A failed final flush (disk full) must not pass for a whole file.
    if (out != stdout) {
      if (std::fclose(out) != 0 && ok) {
        std::cerr << "attachgate: write failed\n";
        ok = false;
      }
    } else if (std::fflush(stdout) != 0 && ok) {
      std::cerr << "attachgate: write failed\n";
      ok = false;
    }
    if (!ok && !out_path.empty()) std::remove(out_path.c_str());
    return ok ? 0 : 1;
  };
}

}  // namespace attachgate::app
