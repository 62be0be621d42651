// Tests milter/filename.cc: names from mail decoded (RFC 2231, RFC 2047) and
// made safe for the catalog, headers and the notice, whatever the sender wrote.
#include "milter/filename.h"

#include <gtest/gtest.h>

#include <string>

#include "milter/gobject_ptr.h"
#include "milter/processor.h"

namespace attachgate::milter {
namespace {

bool valid_utf8_without_controls(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7F) return false;
  return g_utf8_validate(s.data(), static_cast<gssize>(s.size()), nullptr);
}

TEST(SanitizeFilename, KeepsAnOrdinaryName) {
  EXPECT_EQ(sanitize_filename("Quarterly report Q3.pdf"), "Quarterly report Q3.pdf");
  EXPECT_EQ(sanitize_filename("Müller Angebot €.docx"), "Müller Angebot €.docx");
}

TEST(SanitizeFilename, PathsCannotEscape) {
  const std::string s = sanitize_filename("../../etc/passwd");
  EXPECT_EQ(s.find('/'), std::string::npos) << s;
  EXPECT_NE(s.rfind("..", 0), 0u) << "leading dots kept: " << s;
  EXPECT_EQ(sanitize_filename("C:\\Windows\\evil.exe").find('\\'), std::string::npos);
}

TEST(SanitizeFilename, HeaderInjectionBecomesOneLine) {
  const std::string s = sanitize_filename("a\"b\r\nContent-Type: text/html\tx.pdf");
  EXPECT_EQ(s, "a_b Content-Type_ text_html x.pdf");
}

TEST(SanitizeFilename, BidiOverrideCannotDisguiseTheExtension) {
  // "invoice" RLO "fdp.exe": shows as "invoiceexe.pdf" in a bidi renderer.
  EXPECT_EQ(sanitize_filename("invoice\u202Efdp.exe"), "invoicefdp.exe");
  EXPECT_EQ(sanitize_filename("zero\u200Bwidth\uFEFF.txt"), "zerowidth.txt");
}

TEST(SanitizeFilename, InvalidUtf8BecomesUnderscores) {
  const std::string s = sanitize_filename(std::string("bad\xFF\xC3(name.pdf"));
  EXPECT_EQ(s, "bad__(name.pdf");
  EXPECT_TRUE(valid_utf8_without_controls(s));
}

TEST(SanitizeFilename, LongNamesAreCutKeepingTheExtension) {
  const std::string s = sanitize_filename(std::string(300, 'x') + ".pdf");
  EXPECT_EQ(s.size(), 200u);
  EXPECT_EQ(s.substr(s.size() - 4), ".pdf");
  // A cut never splits a multibyte character.
  std::string euros;
  for (int i = 0; i < 150; ++i) euros += "€";  // 3 bytes each
  const std::string e = sanitize_filename(euros);
  EXPECT_LE(e.size(), 200u);
  EXPECT_TRUE(valid_utf8_without_controls(e));
}

TEST(SanitizeFilename, NothingLeftFallsBackToATypedName) {
  EXPECT_EQ(sanitize_filename("", "application/pdf"), "attachment.pdf");
  EXPECT_EQ(sanitize_filename("\u202E\u200B", "image/png"), "attachment.png");
  EXPECT_EQ(sanitize_filename("...", "application/x-unknown"), "attachment");
}

TEST(SanitizeFilename, HiddenFilesAndDeviceNames) {
  EXPECT_EQ(sanitize_filename(".bashrc"), "bashrc");
  EXPECT_EQ(sanitize_filename("CON.txt"), "_CON.txt");
  EXPECT_EQ(sanitize_filename("lpt1"), "_lpt1");
  EXPECT_EQ(sanitize_filename("console.txt"), "console.txt");
}

TEST(CleanDisplayText, DropsControlsButKeepsPunctuation) {
  EXPECT_EQ(clean_display_text("alice@example.org\r\nBcc: x"), "alice@example.org Bcc: x");
  EXPECT_EQ(clean_display_text("a/b:c"), "a/b:c");
  EXPECT_EQ(clean_display_text(std::string(300, 'a'), 50).size(), 50u);
}

// Parses one MIME part from its headers, as GMime would inside a message.
GPtr<GMimeObject> parse_part(const std::string& headers) {
  init_gmime();
  const std::string raw = headers + "\r\n\r\nJVBERi0=\r\n";
  auto stream = adopt(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  auto parser = adopt(g_mime_parser_new_with_stream(stream.get()));
  return adopt(g_mime_parser_construct_part(parser.get(), nullptr));
}

TEST(PartFilename, DecodesRfc2231Continuations) {
  auto part = parse_part(
      "Content-Type: application/pdf\r\n"
      "Content-Disposition: attachment;\r\n"
      " filename*0*=UTF-8''%E2%82%AC%20exchange%20;\r\n"
      " filename*1*=rates%20Q3.pdf");
  ASSERT_TRUE(part);
  EXPECT_EQ(part_filename(part.get()), "€ exchange rates Q3.pdf");
}

TEST(PartFilename, DecodesRfc2047EvenWhenQuoted) {
  auto part = parse_part(
      "Content-Type: application/pdf\r\n"
      "Content-Disposition: attachment; filename=\"=?ISO-8859-1?Q?Angebot_M=FCller.pdf?=\"");
  ASSERT_TRUE(part);
  EXPECT_EQ(part_filename(part.get()), "Angebot Müller.pdf");
}

TEST(PartFilename, FallsBackToTheContentTypeName) {
  auto part = parse_part("Content-Type: application/pdf; name=\"scan.pdf\"");
  ASSERT_TRUE(part);
  EXPECT_EQ(part_filename(part.get()), "scan.pdf");
}

TEST(PartFilename, HostileEncodedNameIsSanitisedAfterDecoding) {
  auto part = parse_part(
      "Content-Type: application/octet-stream\r\n"
      "Content-Disposition: attachment;\r\n"
      " filename*=UTF-8''..%2F..%2F%22evil%22%0D%0AX%3A%20y%20invoice%E2%80%AEfdp.exe");
  ASSERT_TRUE(part);
  const std::string name = part_filename(part.get());
  EXPECT_TRUE(valid_utf8_without_controls(name)) << name;
  EXPECT_EQ(name.find('/'), std::string::npos) << name;
  EXPECT_EQ(name.find('"'), std::string::npos) << name;
  EXPECT_EQ(name.find("\u202E"), std::string::npos) << name;
  EXPECT_EQ(name.substr(name.size() - 4), ".exe") << name;
}

TEST(PartFilename, UnnamedPartHasTypedFallback) {
  auto part = parse_part("Content-Type: application/pdf");
  ASSERT_TRUE(part);
  EXPECT_EQ(raw_part_filename(part.get()), "");
  EXPECT_EQ(part_filename(part.get()), "attachment.pdf");
}

}  // namespace
}  // namespace attachgate::milter
