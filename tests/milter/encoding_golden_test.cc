// Golden cases for each transfer encoding's edge cases:
// tests/milter/encodings/NAME.eml (written by make_cases.py there) holds one
// attachment, f.bin. With NAME.bin beside it the attachment must be offloaded
// and the stored blob must be those bytes, which are what Python's email
// package decodes. With NAME.kept the mail must pass unchanged, nothing may
// be stored, and the log must give the reason NAME.kept names.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>

#include "tests/milter/processor_fixture.h"

namespace attachgate::milter::testing {
namespace {

std::string cases_dir() { return source_dir() + "/tests/milter/encodings/"; }

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(cases_dir()))
    if (e.path().extension() == ".eml") names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool exists(const std::string& path) { return std::filesystem::exists(path); }

class EncodingGolden : public ProcessorFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    ProcessorFixture::SetUp();
    offload_everything();
  }
};

TEST_P(EncodingGolden, StoresWhatClientsDecodeOrKeepsThePart) {
  const std::string base = cases_dir() + GetParam();
  const std::string input = read_file(base + ".eml");
  ASSERT_FALSE(input.empty());
  ASSERT_NE(exists(base + ".bin"), exists(base + ".kept")) << "want exactly one of .bin and .kept";
  Run r = process(input);

  if (exists(base + ".kept")) {
    std::string why = read_file(base + ".kept");
    why.erase(why.find_last_not_of("\r\n") + 1);
    EXPECT_EQ(r.outcome.action, Outcome::Action::pass) << r.outcome.log;
    EXPECT_EQ(r.output, to_crlf(input)) << "a kept attachment's mail must pass unchanged";
    EXPECT_TRUE(store_->blobs.list_blobs()->empty()) << "a blob was left for a kept attachment";
    EXPECT_NE(r.outcome.log.find("f.bin"), std::string::npos) << r.outcome.log;
    EXPECT_NE(r.outcome.log.find(why), std::string::npos) << "log does not say \"" << why << "\": "
                                                           << r.outcome.log;
    return;
  }
  ASSERT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.output, m, std::regex("X-Attachgate: offloaded=1; message=([0-9a-f]{16})")));
  auto detail = store_->catalog.show_message(m[1].str());
  ASSERT_TRUE(detail.ok() && detail->has_value());
  ASSERT_EQ((*detail)->files.size(), 1u);
  const auto& file = (*detail)->files.front();
  const std::string want = read_file(base + ".bin");
  const std::string got = read_blob(file.blob_id);
  EXPECT_EQ(file.size, want.size());
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "stored bytes differ from " << base << ".bin";
}

INSTANTIATE_TEST_SUITE_P(Encodings, EncodingGolden, ::testing::ValuesIn(case_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace attachgate::milter::testing
