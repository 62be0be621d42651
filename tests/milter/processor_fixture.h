// tests/milter/processor_fixture.h - drive process_message as the milter
// would: headers and body of an .eml, a real store in a temp directory, the
// shipped templates, and fixed clock, token and pixel id.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "config/policy.h"
#include "milter/processor.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_catalog.h"

namespace attachgate::milter::testing {

inline std::string source_dir() {
  const char* d = std::getenv("ATTACHGATE_SOURCE_DIR");
  return d ? d : ATTACHGATE_SOURCE_DIR_DEFAULT;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Postfix hands the milter CRLF lines whatever the client sent.
inline std::string to_crlf(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += text[i];
  }
  return out;
}

struct Eml {
  std::vector<Header> headers;  // values keep their leading space, as with SMFIP_HDR_LEADSPC
  std::string body;
};

inline Eml split(const std::string& crlf) {
  Eml e;
  std::size_t end = crlf.find("\r\n\r\n");
  std::string head = crlf.substr(0, end == std::string::npos ? crlf.size() : end + 2);
  e.body = end == std::string::npos ? "" : crlf.substr(end + 4);
  std::size_t pos = 0;
  while (pos < head.size()) {
    std::size_t eol = head.find("\r\n", pos);
    std::string line = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t') && !e.headers.empty()) {
      e.headers.back().value += "\n" + line;  // folded, as the MTA sends it
      continue;
    }
    auto colon = line.find(':');
    e.headers.push_back({line.substr(0, colon), line.substr(colon + 1)});
  }
  return e;
}

inline std::string serialize(const std::vector<Header>& headers, const std::string& body) {
  std::string out;
  for (const auto& h : headers) out += h.name + ":" + to_crlf(h.value) + "\r\n";
  return out + "\r\n" + body;
}

inline std::vector<Header> apply_changes(std::vector<Header> headers, const std::vector<HeaderChange>& changes) {
  auto find = [&](const std::string& name) {
    for (auto it = headers.begin(); it != headers.end(); ++it)
      if (strcasecmp(it->name.c_str(), name.c_str()) == 0) return it;
    return headers.end();
  };
  for (const auto& c : changes) {
    auto it = find(c.name);
    if (c.op == HeaderChange::Op::add) headers.push_back({c.name, " " + c.value});
    else if (it == headers.end()) ADD_FAILURE() << "change of absent header " << c.name;
    else if (c.op == HeaderChange::Op::change) it->value = " " + c.value;
    else headers.erase(it);
  }
  return headers;
}

class ProcessorFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::Store::open(dir_.path() + "/state", "", attachgate::testing::catalog_for_state(dir_.path() + "/state"));
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    service_.state_dir = dir_.path() + "/state";
    service_.templates_dir = source_dir() + "/templates";
    service_.public_url = "https://files.example.test";
    auto notices = NoticeRenderer::load(service_.templates_dir);
    ASSERT_TRUE(notices.ok()) << notices.error().message;
    notices_ = std::make_shared<const NoticeRenderer>(std::move(*notices));
    use_policy(source_dir() + "/tests/milter/golden/policy.toml");
  }

  void use_policy(const std::string& path) {
    auto loaded = config::load_policy(path);
    ASSERT_TRUE(loaded.ok()) << config::format_problems(loaded.problems);
    policy_ = std::make_shared<const config::Policy>(*loaded.value);
  }

  void use_policy_text(const std::string& toml) {
    const std::string policy = dir_.path() + "/policy-" + std::to_string(++policies_) + ".toml";
    std::ofstream(policy) << toml;
    use_policy(policy);
  }

  // A policy that offloads every attachment, whatever its size or kind.
  void offload_everything() {
    use_policy_text("on_error = \"tempfail\"\n[[rule]]\nname = \"all\"\naction = \"offload\"\n");
  }

  // A blob's plaintext, read back through the store as a download would.
  std::string read_blob(const std::string& blob_id) {
    auto reader = store_->blobs.open_blob(blob_id);
    if (!reader) {
      ADD_FAILURE() << "cannot open blob " << blob_id << ": " << reader.error().message;
      return "";
    }
    std::string out;
    std::vector<char> buf(65536);
    for (;;) {
      auto n = reader->read(reinterpret_cast<unsigned char*>(buf.data()), buf.size());
      if (!n) {
        ADD_FAILURE() << "cannot read blob " << blob_id << ": " << n.error().message;
        return out;
      }
      if (*n == 0) return out;
      out.append(buf.data(), *n);
    }
  }

  struct Run {
    Outcome outcome;
    std::string output;  // the whole message after the changes
  };

  Run process(const std::string& raw, std::vector<std::string> rcpts = {"bob@example.net"}) {
    const std::string crlf = to_crlf(raw);
    Eml eml = split(crlf);
    Spool spool(dir_.path() + "/spool", service_.limits.spool_memory_threshold);
    EXPECT_TRUE(spool.append(crlf).ok());
    MessageInput in;
    in.envelope = {"4F2A1B3C", sender_, "", "smtpd", "127.0.0.1", std::move(rcpts)};
    in.headers = eml.headers;
    in.spool = &spool;
    ProcessorContext ctx{*store_, service_, policy_, notices_, {}, kNow};
    if (!random_ids_) {  // golden files need the same text every run
      // The first of each is the same on every run; later ones (a message
      // with a link per recipient) differ from it in their last characters.
      ctx.new_token = [n = 0]() mutable { return numbered("GoldenTokenGoldenTokenGoldenTokenGoldenTok", n++); };
      ctx.new_pixel_id = [n = 0]() mutable { return numbered("0123456789abcdef0123456789abcdef", n++); };
    }
    Run r{process_message(in, ctx), ""};
    std::string body = eml.body;
    if (r.outcome.body) {
      body.clear();
      EXPECT_TRUE(r.outcome.body->for_each_chunk(65536, [&](std::string_view c) -> Status {
        body.append(c);
        return {};
      }).ok());
    }
    r.output = serialize(apply_changes(eml.headers, r.outcome.header_changes), body);
    return r;
  }

  static std::string numbered(std::string base, int n) {
    if (n == 0) return base;
    const std::string digits = std::to_string(n);
    return base.replace(base.size() - digits.size(), digits.size(), digits);
  }

  static constexpr std::int64_t kNow = 1'795'000'000;  // 2026-11-18
  std::string sender_ = "alice@example.org";
  bool random_ids_ = false;  // true: each offload gets fresh tokens, as in service
  int policies_ = 0;
  attachgate::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  config::ServiceConfig service_;
  std::shared_ptr<const config::Policy> policy_;
  std::shared_ptr<const NoticeRenderer> notices_;
};

}  // namespace attachgate::milter::testing
