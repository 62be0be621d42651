// util/fault.cc - see fault.h.
#include "util/fault.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

namespace attachgate {
namespace {

struct Armed {
  std::string point;  // empty: no fault armed
  long pass = 0;
  std::atomic<long> seen{0};
};

Armed& armed() {
  static Armed* a = [] {
    auto* r = new Armed;  // never destroyed: points may be passed during exit
    const char* spec = std::getenv("ATTACHGATE_FAULT_KILL_AT");
    const char* colon = spec ? std::strrchr(spec, ':') : nullptr;
    if (colon && colon != spec) {
      char* end = nullptr;
      const long n = std::strtol(colon + 1, &end, 10);
      if (end && *end == '\0' && n >= 1) {
        r->point.assign(spec, colon);
        r->pass = n;
      }
    }
    return r;
  }();
  return *a;
}

}  // namespace

void fault_point(const char* name) {
  Armed& a = armed();
  if (a.point.empty() || a.point != name) return;
  if (a.seen.fetch_add(1) + 1 == a.pass) ::raise(SIGKILL);
}

}  // namespace attachgate
