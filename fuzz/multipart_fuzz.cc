// fuzz/multipart_fuzz.cc - the streaming multipart/form-data reader
// (web/multipart.*), as the API upload route drives it.
//
// Input: a Content-Type line, then the body. The body is read twice: whole,
// and in small pieces whose sizes follow from the input. The reader promises
// that piece boundaries do not matter, so both reads must report the same
// parts, the same content of each, and the same verdict; and a part's
// content is never more bytes than the body had.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "web/multipart.h"

using namespace attachgate;
using namespace attachgate::web;

namespace {

struct Trace {
  std::vector<std::string> events;  // "part name|filename|type", then its data
  bool ok = true;
  std::string error;
};

Trace read(const std::string& boundary, std::string_view body, std::uint32_t seed) {
  Trace t;
  MultipartReader::Callbacks cb;
  cb.on_part = [&](const PartInfo& p) -> Status {
    t.events.push_back("part " + p.name + "|" + (p.filename ? "f:" + *p.filename : "-") + "|" +
                       p.content_type);
    t.events.emplace_back();
    return {};
  };
  cb.on_data = [&](const char* d, std::size_t n) -> Status {
    FUZZ_CHECK(!t.events.empty(), "data before any part");
    t.events.back().append(d, n);
    return {};
  };
  cb.on_part_end = [&]() -> Status {
    t.events.push_back("end");
    return {};
  };
  MultipartReader reader(boundary, cb);
  Status s;
  std::size_t at = 0;
  while (s && at < body.size()) {
    std::size_t n = body.size() - at;
    if (seed != 0) {  // pieces of 1..32 bytes, from a small LCG
      seed = seed * 1103515245u + 12345u;
      n = std::min<std::size_t>(n, 1 + (seed >> 16) % 32);
    }
    s = reader.feed(body.data() + at, n);
    at += n;
  }
  if (s) s = reader.finish();
  t.ok = s.ok();
  if (!s) t.error = s.error().message;
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t eol = in.find('\n');
  if (eol == std::string_view::npos) return 0;
  auto boundary = form_data_boundary(in.substr(0, eol));
  if (!boundary) return 0;
  const std::string_view body = in.substr(eol + 1);

  std::uint32_t seed = 1;
  for (unsigned char c : body) seed = seed * 31 + c;
  const Trace whole = read(*boundary, body, 0);
  const Trace pieces = read(*boundary, body, seed | 1);
  FUZZ_CHECK(whole.ok == pieces.ok, "whole: %s; in pieces: %s",
             whole.ok ? "ok" : whole.error.c_str(), pieces.ok ? "ok" : pieces.error.c_str());
  // A refused upload is abandoned, so only a whole read's events must match.
  if (whole.ok) {
    FUZZ_CHECK(whole.events.size() == pieces.events.size(), "%zu events vs %zu in pieces",
               whole.events.size(), pieces.events.size());
    for (std::size_t i = 0; i < whole.events.size(); ++i)
      FUZZ_CHECK(whole.events[i] == pieces.events[i], "event %zu differs", i);
  }
  for (const auto& e : whole.events) FUZZ_CHECK(e.size() <= body.size() + 100, "event larger than the body");
  return 0;
}
