// fuzz/config_fuzz.cc - the TOML readers (config/toml_reader.*) behind the
// policy and the service config, and the policy's matching.
//
// The loaders read a path, so each input is written to one temporary file
// and loaded as both kinds. Checked beyond memory safety: a load either
// gives a value or at least one `file:line: message` problem, never both;
// a policy that loads can decide and summarise; and the glob matcher
// (patterns and text both from the input) stays within its contract.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/match.h"
#include "config/policy.h"
#include "config/service_config.h"
#include "fuzz/fuzz_check.h"

using namespace attachgate;
using namespace attachgate::config;

namespace {

const std::string& temp_path() {
  static const std::string path = [] {
    char tmpl[] = "/tmp/attachgate-fuzz-config-XXXXXX";
    int fd = ::mkstemp(tmpl);
    if (fd < 0) std::abort();
    ::close(fd);
    std::atexit([] { std::remove(temp_path().c_str()); });
    return std::string(tmpl);
  }();
  return path;
}

void write_file(const std::string& path, std::string_view text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (!text.empty() && std::fwrite(text.data(), 1, text.size(), f) != text.size()) std::abort();
  std::fclose(f);
}

template <class T>
void check_loaded(const Loaded<T>& loaded) {
  FUZZ_CHECK(loaded.value.has_value() != !loaded.problems.empty(), "value and %zu problems",
             loaded.problems.size());
  for (const auto& p : loaded.problems) {
    FUZZ_CHECK(p.line >= 0 && !p.message.empty(), "problem at line %d: '%s'", p.line, p.message.c_str());
    FUZZ_CHECK(p.to_string().find('\n') == std::string::npos, "problem spans lines: %s",
               p.to_string().c_str());
  }
}

void use_policy(const Policy& policy) {
  MessageFacts message{"Alice@Example.org", "alice", "smtpd", "[secure] Q3 report",
                       {"bob@example.net", "carol@example.org"}, 5'000'000};
  AttachmentFacts attachment{"report.final.pdf", "application/pdf", 4'000'000};
  Decision d = policy.decide(message, attachment);
  FUZZ_CHECK(!d.rule.empty(), "decision without a rule name");
  FUZZ_CHECK(policy.strip_subject_tags(message.subject).size() <= message.subject.size(),
             "stripping tags grew the subject");
  (void)policy.summary();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  write_file(temp_path(), in);
  auto policy = load_policy(temp_path());
  check_loaded(policy);
  if (policy.value) use_policy(*policy.value);
  check_loaded(load_service_config(temp_path()));

  // The glob matcher: pattern before the first NUL, text after it.
  const std::size_t nul = in.find('\0');
  if (nul != std::string_view::npos) {
    const std::string_view pattern = in.substr(0, nul), text = in.substr(nul + 1);
    const bool match = glob_match(pattern, text);
    if (pattern.find_first_of("*?") == std::string_view::npos)
      FUZZ_CHECK(match == equals_nocase(pattern, text), "literal glob");
    if (pattern == "*") FUZZ_CHECK(match, "'*' must match anything");
  }
  return 0;
}
