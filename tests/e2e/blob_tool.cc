// tests/e2e/blob_tool.cc - a test driver for the blob back ends: writes and
// reads blobs through the real Store (Store::open with a [blobs] url), so
// the engine tests can drive the S3 back end against s3rver from Python.
// Credentials come as attachgate takes them: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, or --credentials FILE.
//
//   blob_tool STATE_DIR URL write FILE       -> {"id","size","sha256"}
//   blob_tool STATE_DIR URL drop FILE BYTES  -> writes BYTES of FILE, then
//       drops the writer without commit -> {"id"}
//   blob_tool STATE_DIR URL read ID OUT [SKIP [LENGTH]]
//       plaintext from SKIP (through BlobReader::skip) to OUT
//       -> {"size","sha256"}; exit 3 and {"missing":true} if it is gone
//   blob_tool STATE_DIR URL list             -> {"ids":[...],"unfinished":[...]}
//   blob_tool STATE_DIR URL remove ID
// Every answer also has "max_rss_kib": this program's peak RSS (VmHWM; not
// getrusage, whose maxrss counts the forking parent's RSS too). Errors go
// to stderr, exit 1.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/sha256.h"
#include "store/store.h"

namespace {

using namespace attachgate;
using nlohmann::json;

int fail(const std::string& what) {
  std::fprintf(stderr, "blob_tool: %s\n", what.c_str());
  return 1;
}

long peak_rss_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

int answer(json out) {
  out["max_rss_kib"] = peak_rss_kib();
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

// Writes up to limit bytes of path into writer, 100 KB at a time (not a
// chunk multiple, so chunks are cut across writes).
Status copy_in(const std::string& path, store::BlobWriter& writer, std::uint64_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot read " + path);
  std::vector<char> buffer(100'000);
  while (limit > 0 && in) {
    in.read(buffer.data(), static_cast<std::streamsize>(std::min<std::uint64_t>(buffer.size(), limit)));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    if (auto s = writer.write(buffer.data(), n); !s) return s;
    limit -= n;
  }
  return {};
}

int read_blob(store::Store& s, const std::vector<std::string>& args) {
  if (args.size() < 2) return fail("read ID OUT [SKIP [LENGTH]]");
  auto found = s.blobs.find_blob(args[0]);
  if (!found) return fail(found.error().message);
  if (!*found) {
    (void)answer({{"missing", true}});
    return 3;
  }
  store::BlobReader& reader = **found;
  if (args.size() > 2)
    if (auto st = reader.skip(std::stoull(args[2])); !st) return fail(st.error().message);
  std::uint64_t left = args.size() > 3 ? std::stoull(args[3]) : UINT64_MAX;
  std::ofstream out(args[1], std::ios::binary);
  store::Sha256 hash;
  std::uint64_t size = 0;
  std::vector<char> buffer(store::kBlobChunkSize);
  while (left > 0) {
    auto got = reader.read(buffer.data(), std::min<std::uint64_t>(buffer.size(), left));
    if (!got) return fail(got.error().message);
    if (*got == 0) break;
    out.write(buffer.data(), static_cast<std::streamsize>(*got));
    hash.update(buffer.data(), *got);
    size += *got;
    left -= *got;
  }
  if (!out.flush()) return fail("cannot write " + args[1]);
  return answer({{"size", size}, {"sha256", hash.final_hex()}});
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  store::BlobsConfig blobs;
  if (args.size() > 1 && args[0] == "--credentials") {
    blobs.credentials_file = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.size() < 3) return fail("usage: blob_tool [--credentials FILE] STATE_DIR URL COMMAND ...");
  blobs.url = args[1];
  const std::string command = args[2];
  auto opened = store::Store::open(args[0], "", {}, blobs);
  if (!opened) return fail(opened.error().message);
  store::Store& s = **opened;
  const std::vector<std::string> rest(args.begin() + 3, args.end());

  if (command == "write" && rest.size() == 1) {
    auto writer = s.blobs.create();
    if (!writer) return fail(writer.error().message);
    if (auto st = copy_in(rest[0], *writer, UINT64_MAX); !st) return fail(st.error().message);
    auto info = writer->commit();
    if (!info) return fail(info.error().message);
    return answer({{"id", info->id}, {"size", info->size}, {"sha256", info->sha256}});
  }
  if (command == "drop" && rest.size() == 2) {
    {
      auto writer = s.blobs.create();
      if (!writer) return fail(writer.error().message);
      if (auto st = copy_in(rest[0], *writer, std::stoull(rest[1])); !st) return fail(st.error().message);
    }  // dropped here, never committed
    return answer(json::object());
  }
  if (command == "read") return read_blob(s, rest);
  if (command == "list") {
    auto ids = s.blobs.list_blobs();
    if (!ids) return fail(ids.error().message);
    auto unfinished = s.blobs.list_unfinished();
    if (!unfinished) return fail(unfinished.error().message);
    json out = {{"ids", json::array()}, {"unfinished", json::array()}};
    for (const auto& o : *ids) out["ids"].push_back(o.id);
    for (const auto& o : *unfinished) out["unfinished"].push_back(o.name);
    return answer(out);
  }
  if (command == "remove" && rest.size() == 1) {
    if (auto st = s.blobs.remove(rest[0]); !st) return fail(st.error().message);
    return answer(json::object());
  }
  return fail("unknown command or wrong arguments: " + command);
}
