// Differential test of attachment decoding: thousands of random attachments
// in every transfer encoding (tests/milter/encoding_corpus.py) go through the
// message processor, and each stored blob, read back and hashed here, must
// equal what Python's email package decodes from the same message. Where
// the generator made clients disagree, the attachment must stay in the mail
// untouched and nothing may be stored. ATTACHGATE_DIFF_COUNT and
// ATTACHGATE_DIFF_SEED change the corpus (default 2,000 messages, seed 1).
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <regex>

#include <nlohmann/json.hpp>

#include "store/sha256.h"
#include "tests/milter/processor_fixture.h"

namespace attachgate::milter::testing {
namespace {

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

class EncodingDifferential : public ProcessorFixture {
 protected:
  void SetUp() override {
    ProcessorFixture::SetUp();
    random_ids_ = true;  // one store, many offloads
    offload_everything();
  }

  std::string blob_sha256(const std::string& blob_id) {
    const std::string data = read_blob(blob_id);
    store::Sha256 hash;
    hash.update(reinterpret_cast<const unsigned char*>(data.data()), data.size());
    return hash.final_hex();
  }

  // Everything wrong with one message, or "".
  std::string check(const nlohmann::json& entry, const std::string& raw) {
    Run r = process(raw);
    if (const char* dump = std::getenv("ATTACHGATE_DIFF_DUMP"))  // to look at one by hand
      std::ofstream(std::string(dump) + "/" + entry["file"].get<std::string>() + ".out") << r.output;
    std::map<std::string, const nlohmann::json*> stored, kept;
    for (const auto& a : entry["attachments"])
      (a["expect"] == "stored" ? stored : kept)[a["filename"]] = &a;
    std::string wrong;
    for (const auto& [name, a] : kept)
      if (r.output.find(from_hex((*a)["probe"].get<std::string>())) == std::string::npos)
        wrong += " " + name + " (" + (*a)["cte"].get<std::string>() + ") is not in the mail any more;";
    if (stored.empty()) {
      if (r.outcome.action != Outcome::Action::pass) wrong += " not passed: " + r.outcome.log;
      if (r.output != to_crlf(raw)) wrong += " output differs from input;";
      return wrong;
    }
    if (r.outcome.action != Outcome::Action::modified) return wrong + " not offloaded: " + r.outcome.log;
    std::smatch m;
    const std::regex id_re("X-Attachgate: offloaded=[0-9]+; message=([0-9a-f]{16})");
    if (!std::regex_search(r.output, m, id_re)) return wrong + " no X-Attachgate header";
    auto detail = store_->catalog.show_message(m[1].str());
    if (!detail || !detail->has_value()) return wrong + " message not in the catalog";
    const auto& files = (*detail)->files;
    if (files.size() != stored.size())
      wrong += " " + std::to_string(files.size()) + " files stored, want " + std::to_string(stored.size()) + ";";
    for (const auto& f : files) {
      auto it = stored.find(f.filename);
      if (it == stored.end()) {
        wrong += " stored " + f.filename + ", which should have stayed;";
        continue;
      }
      const auto& want = *it->second;
      const std::string got = blob_sha256(f.blob_id);
      if (got != want["sha256"] || f.size != want["size"].get<std::uint64_t>() || f.sha256 != got)
        wrong += " " + f.filename + " (" + want["cte"].get<std::string>() + "): stored " +
                 std::to_string(f.size) + " bytes, sha256 " + got.substr(0, 16) + ", Python decodes " +
                 std::to_string(want["size"].get<std::uint64_t>()) + " bytes, sha256 " +
                 want["sha256"].get<std::string>().substr(0, 16) + ";";
    }
    return wrong;
  }
};

TEST_F(EncodingDifferential, StoredBlobsMatchPythonsEmail) {
  const std::string corpus = dir_.path() + "/corpus";
  const std::string count = env_or("ATTACHGATE_DIFF_COUNT", "2000");
  const std::string seed = env_or("ATTACHGATE_DIFF_SEED", "1");
  const std::string cmd = "python3 " + source_dir() + "/tests/milter/encoding_corpus.py --out " + corpus +
                          " --count " + count + " --seed " + seed;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const auto manifest = nlohmann::json::parse(read_file(corpus + "/manifest.json"));
  ASSERT_EQ(manifest.size(), std::stoul(count));

  std::map<std::string, int> tally;  // "cte expect" -> attachments
  int failures = 0;
  for (const auto& entry : manifest) {
    for (const auto& a : entry["attachments"])
      ++tally[a["cte"].get<std::string>() + " " + a["expect"].get<std::string>()];
    const std::string wrong = check(entry, read_file(corpus + "/" + entry["file"].get<std::string>()));
    if (!wrong.empty() && ++failures <= 40) ADD_FAILURE() << entry["file"].get<std::string>() << ":" << wrong;
  }
  for (const auto& [what, n] : tally) std::printf("  %-28s %5d\n", what.c_str(), n);
  EXPECT_EQ(failures, 0) << "of " << manifest.size() << " messages (seed " << seed << ")";
}

}  // namespace
}  // namespace attachgate::milter::testing
