// Tests milter/notice.cc: the shipped templates render every fact a
// recipient needs, values are escaped (HTML) or cleaned (text), and a broken
// template is refused at load with file:line rather than found on a mail.
#include "milter/notice.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/milter/processor_fixture.h"
#include "tests/support/temp_dir.h"

namespace attachgate::milter {
namespace {

using attachgate::milter::testing::source_dir;

NoticeRenderer shipped() {
  auto r = NoticeRenderer::load(source_dir() + "/templates");
  if (!r) ADD_FAILURE() << r.error().message;
  return std::move(*r);
}

Notice sample() {
  Notice n;
  n.files = {{"report.pdf", 31'200'000, "application/pdf"}, {"notes.txt", 1200, "text/plain"}};
  n.download_url = "https://files.example.org/d/TOKEN123";
  n.pixel_url = "https://files.example.org/o/PIXEL.gif";
  n.expires_at = 1'795'604'400;  // 2026-11-25 11:00 UTC
  n.downloads_allowed = 1;
  n.sender = "alice@example.org";
  return n;
}

TEST(NoticeText, ShowsEveryFactOfTheLink) {
  const std::string t = shipped().text(sample());
  for (const char* want : {"report.pdf (31.2 MB)", "notes.txt (1.2 KB)", "2 files",
                           "https://files.example.org/d/TOKEN123", "25 Nov 2026", "11:00 UTC",
                           "1 download per file", "alice@example.org"})
    EXPECT_NE(t.find(want), std::string::npos) << want << "\n" << t;
  EXPECT_EQ(t.find("access code"), std::string::npos) << "no code was asked for";
  EXPECT_EQ(t.find("PIXEL"), std::string::npos) << "the text part has no pixel";
}

TEST(NoticeText, SaysWhenACodeIsNeeded) {
  Notice n = sample();
  n.code_required = true;
  EXPECT_NE(shipped().text(n).find("access code"), std::string::npos);
  EXPECT_NE(shipped().html(n).find("access code"), std::string::npos);
}

TEST(NoticeText, LinesAreWrappedButLinksAreNeverBroken) {
  Notice n = sample();
  n.download_url = "https://files.example.org/d/" + std::string(120, 'T');
  const std::string t = shipped().text(n);
  std::istringstream in(t);
  std::string line;
  bool url_whole = false;
  while (std::getline(in, line)) {
    if (line.find(n.download_url) != std::string::npos) url_whole = true;
    else EXPECT_LE(line.size(), 72u) << line;
  }
  EXPECT_TRUE(url_whole) << t;
}

TEST(NoticeHtml, EscapesHostileValues) {
  Notice n = sample();
  n.files = {{"<script>alert(1)</script>\".pdf", 10, "application/pdf"}};
  n.sender = "\"><img src=x onerror=alert(1)>@example.org";
  const std::string h = shipped().html(n);
  EXPECT_EQ(h.find("<script>"), std::string::npos) << h;
  EXPECT_EQ(h.find("<img src=x"), std::string::npos) << h;
  EXPECT_NE(h.find("&lt;script&gt;"), std::string::npos) << h;
}

TEST(NoticeHtml, PixelOnlyWhenTracking) {
  Notice n = sample();
  EXPECT_NE(shipped().html(n).find("PIXEL.gif"), std::string::npos);
  n.pixel_url.clear();
  EXPECT_EQ(shipped().html(n).find("<img"), std::string::npos);
}

TEST(NoticeText, ControlCharactersFromMailNeverReachTheText) {
  Notice n = sample();
  n.files = {{"a\r\nBcc: victim@example.net\x1b[31m.pdf", 10, "application/pdf"}};
  const std::string t = shipped().text(n);
  EXPECT_EQ(t.find("\r"), std::string::npos);
  EXPECT_EQ(t.find("\x1b"), std::string::npos);
  EXPECT_EQ(t.find("\nBcc:"), std::string::npos) << t;
}

// ---- broken templates are refused with file:line ----------------------------

class BrokenTemplate : public ::testing::Test {
 protected:
  // Writes the shipped notice.txt and the given notice.html; returns load()'s error.
  std::string load_with_html(const std::string& html) {
    std::ifstream txt(source_dir() + "/templates/notice.txt");
    std::ofstream(dir_ / "notice.txt") << txt.rdbuf();
    std::ofstream(dir_ / "notice.html") << html;
    auto r = NoticeRenderer::load(dir_.path());
    return r ? "" : r.error().message;
  }
  attachgate::testing::TempDir dir_;
};

TEST_F(BrokenTemplate, UnknownNameNamesFileAndLine) {
  const std::string e = load_with_html("<a href=\"{{download_url}}\">x</a>\n{{downlaod_url}}\n");
  EXPECT_NE(e.find("notice.html:2: unknown name 'downlaod_url'"), std::string::npos) << e;
}

TEST_F(BrokenTemplate, UnescapedValueInHtmlIsRefused) {
  const std::string e = load_with_html("{{{download_url}}}\n");
  EXPECT_NE(e.find("notice.html:1:"), std::string::npos) << e;
  EXPECT_NE(e.find("unescaped"), std::string::npos) << e;
}

TEST_F(BrokenTemplate, UnclosedSectionIsRefused) {
  const std::string e = load_with_html("{{download_url}}\n{{#files}}\n{{name}}\n");
  EXPECT_NE(e.find("notice.html:2: section 'files' is never closed"), std::string::npos) << e;
}

TEST_F(BrokenTemplate, TemplateWithoutTheLinkIsRefused) {
  const std::string e = load_with_html("<p>{{files_label}}</p>\n");
  EXPECT_NE(e.find("without the download link"), std::string::npos) << e;
}

TEST_F(BrokenTemplate, MissingFileIsRefused) {
  auto r = NoticeRenderer::load(dir_.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("notice.txt: cannot open"), std::string::npos) << r.error().message;
}

TEST_F(BrokenTemplate, AValidReplacementLoads) {
  EXPECT_EQ(load_with_html("<p><a href=\"{{download_url}}\">{{files_label}}</a></p>\n"), "");
}

}  // namespace
}  // namespace attachgate::milter
