// Tests web/content_headers.cc: download headers built from hostile names and types.
#include "web/content_headers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "util/text.h"
#include "web/form.h"

namespace attachgate::web {
namespace {

using namespace std::string_literals;

const std::string kRlo = "\xE2\x80\xAE";   // U+202E right-to-left override
const std::string kFffd = "\xEF\xBF\xBD";  // U+FFFD
const std::string kEAcute = "\xC3\xA9";    // U+00E9

struct Parts {
  std::string fallback;
  std::string encoded;
};

// Splits a header built by content_disposition() into its two names.
Parts split(const std::string& header) {
  const std::string head = "attachment; filename=\"";
  const std::string mid = "\"; filename*=UTF-8''";
  EXPECT_EQ(header.compare(0, head.size(), head), 0) << header;
  std::size_t m = header.find(mid);
  EXPECT_NE(m, std::string::npos) << header;
  if (m == std::string::npos) return {};
  return {header.substr(head.size(), m - head.size()), header.substr(m + mid.size())};
}

std::size_t code_points(const std::string& utf8) {
  return static_cast<std::size_t>(
      std::count_if(utf8.begin(), utf8.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// Names from mail, including what an attacker would try.
const std::vector<std::string>& hostile_names() {
  static const std::vector<std::string> names = {
      "report.pdf",
      "",
      "...",
      "   ",
      "\r\n",
      "a\"b.txt",
      "quote\"; filename=\"evil.exe",
      "a\r\nSet-Cookie: x=y.txt",
      "nul\0byte.txt"s,
      "\0"s,
      "../../etc/passwd",
      "..\\..\\windows\\system32\\cmd.exe",
      "/absolute/path.txt",
      "invoice" + kRlo + "fdp.exe",
      "\xE2\x80\x8B\xEF\xBB\xBF\xE2\x81\xA6zero.txt",
      std::string(300, 'x') + ".pdf",
      std::string(1000, 'y'),
      "a." + std::string(300, 'z'),
      [] { std::string s; for (int i = 0; i < 300; ++i) s += kEAcute; return s + ".docx"; }(),
      "bad\xFF\xFE.txt",
      "\xC0\xAF\xC0\xAE.txt",          // overlong '/' and '.'
      "\xED\xA0\x80surrogate.txt",
      "\xE2\x80" "cut.txt",
      "\xF4\x90\x80\x80" "big.txt",
      "c1\xC2\x85\xC2\x9Bnel.txt",
      "del\x7F.txt",
      "tab\there.txt",
      "50%;off.txt",
      "%0d%0a.txt",
      "\xE6\x8A\xA5\xE5\x91\x8A.docx",  // 报告
      "\xF0\x9F\x98\x80.png",           // an emoji
      "\xE2\x80\xA8line\xE2\x80\xA9sep.txt",
      " .hidden",
  };
  return names;
}

TEST(ContentHeaders, PlainNames) {
  struct Case {
    std::string in, header;
  };
  const Case cases[] = {
      {"report.pdf", "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"},
      {"my report (v2).pdf", "attachment; filename=\"my report (v2).pdf\"; filename*=UTF-8''my%20report%20%28v2%29.pdf"},
      {"a'b=c,d.txt", "attachment; filename=\"a'b=c,d.txt\"; filename*=UTF-8''a%27b%3Dc%2Cd.txt"},
      {"Bericht-\xC3\x9C" "bersicht.pdf",
       "attachment; filename=\"Bericht-_bersicht.pdf\"; filename*=UTF-8''Bericht-%C3%9Cbersicht.pdf"},
      {"\xE6\x8A\xA5\xE5\x91\x8A.docx", "attachment; filename=\"__.docx\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.docx"},
      {"\xF0\x9F\x98\x80.png", "attachment; filename=\"_.png\"; filename*=UTF-8''%F0%9F%98%80.png"},
      {"", "attachment; filename=\"download\"; filename*=UTF-8''download"},
  };
  for (const Case& c : cases) EXPECT_EQ(content_disposition(c.in), c.header) << c.in;
}

TEST(ContentHeaders, AttrCharsStayLiteral) {
  Parts p = split(content_disposition("az09!#$&+-.^_`|~"));
  EXPECT_EQ(p.encoded, "az09!#$&+-.^_`|~");
}

TEST(ContentHeaders, FallbackReplacesSpecialAsciiButEncodedKeepsIt) {
  struct Case {
    std::string in, fallback, display;
  };
  const Case cases[] = {
      {"a\"b.txt", "a_b.txt", "a\"b.txt"},
      {"50%;off.txt", "50__off.txt", "50%;off.txt"},
      {"quote\"; filename=\"evil.exe", "quote__ filename=_evil.exe", "quote\"; filename=\"evil.exe"},
      {"%0d%0a.txt", "_0d_0a.txt", "%0d%0a.txt"},
  };
  for (const Case& c : cases) {
    Parts p = split(content_disposition(c.in));
    EXPECT_EQ(p.fallback, c.fallback) << c.in;
    EXPECT_EQ(sanitize_display_name(c.in), c.display) << c.in;
    EXPECT_EQ(percent_decode(p.encoded, false), c.display) << c.in;
  }
}

TEST(ContentHeaders, DisplayNameCleaning) {
  struct Case {
    std::string in, display, fallback;
  };
  const Case cases[] = {
      {"a\r\nSet-Cookie: x=y.txt", "aSet-Cookie: x=y.txt", "aSet-Cookie: x=y.txt"},
      {"nul\0byte.txt"s, "nulbyte.txt", "nulbyte.txt"},
      {"tab\there.txt", "tabhere.txt", "tabhere.txt"},
      {"del\x7F.txt", "del.txt", "del.txt"},
      {"c1\xC2\x85\xC2\x9Bnel.txt", "c1nel.txt", "c1nel.txt"},
      {"invoice" + kRlo + "fdp.exe", "invoicefdp.exe", "invoicefdp.exe"},
      {"\xE2\x80\x8B\xEF\xBB\xBF\xE2\x81\xA6zero\xE2\x80\x8F.txt", "zero.txt", "zero.txt"},
      {"\xE2\x80\xA8line\xE2\x80\xA9sep.txt", "linesep.txt", "linesep.txt"},
      {"../../etc/passwd", "_.._etc_passwd", "_.._etc_passwd"},
      {"..\\..\\windows\\cmd.exe", "_.._windows_cmd.exe", "_.._windows_cmd.exe"},
      {"/absolute/path.txt", "_absolute_path.txt", "_absolute_path.txt"},
      {".htaccess", "htaccess", "htaccess"},
      {" .hidden  ", "hidden", "hidden"},
      {"bad\xFF\xFE.txt", "bad" + kFffd + kFffd + ".txt", "bad__.txt"},
      {"\xC0\xAF" "x.txt", kFffd + kFffd + "x.txt", "__x.txt"},  // overlong '/', not a '/'
      {"\xED\xA0\x80s.txt", kFffd + kFffd + kFffd + "s.txt", "___s.txt"},
      {"\xE2\x80" "cut.txt", kFffd + kFffd + "cut.txt", "__cut.txt"},
      {"\xF4\x90\x80\x80" "big.txt", kFffd + kFffd + kFffd + kFffd + "big.txt", "____big.txt"},
      {"caf" + kEAcute + ".txt", "caf" + kEAcute + ".txt", "caf_.txt"},
      {"...", "download", "download"},
      {"   ", "download", "download"},
      {"\r\n", "download", "download"},
      {"\0"s, "download", "download"},
      {kRlo, "download", "download"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(sanitize_display_name(c.in), c.display) << c.in;
    Parts p = split(content_disposition(c.in));
    EXPECT_EQ(p.fallback, c.fallback) << c.in;
    EXPECT_EQ(percent_decode(p.encoded, false), c.display) << c.in;
  }
}

TEST(ContentHeaders, LongNamesKeepTheirExtension) {
  std::string name = std::string(300, 'x') + ".pdf";
  EXPECT_EQ(sanitize_display_name(name), std::string(196, 'x') + ".pdf");
  EXPECT_EQ(split(content_disposition(name)).fallback, std::string(146, 'x') + ".pdf");

  std::string accented;
  for (int i = 0; i < 300; ++i) accented += kEAcute;
  std::string display = sanitize_display_name(accented + ".docx");
  EXPECT_EQ(code_points(display), 200u);
  EXPECT_TRUE(valid_utf8(display));
  EXPECT_EQ(display.substr(display.size() - 5), ".docx");
  EXPECT_EQ(split(content_disposition(accented + ".docx")).fallback, std::string(145, '_') + ".docx");

  // Cut on a code point boundary even without an extension.
  std::string cjk;
  for (int i = 0; i < 250; ++i) cjk += "\xE6\x8A\xA5";
  display = sanitize_display_name(cjk);
  EXPECT_EQ(display.size(), 600u);
  EXPECT_TRUE(valid_utf8(display));

  // An "extension" longer than any real one is not kept.
  EXPECT_EQ(sanitize_display_name("a." + std::string(300, 'z')), "a." + std::string(198, 'z'));
  EXPECT_EQ(sanitize_display_name(std::string(1000, 'y')), std::string(200, 'y'));
  // Exactly at the limit: untouched.
  EXPECT_EQ(sanitize_display_name(std::string(196, 'x') + ".pdf"), std::string(196, 'x') + ".pdf");
}

TEST(ContentHeaders, HostileNamesGiveSafeHeaders) {
  for (const std::string& name : hostile_names()) {
    std::string header = content_disposition(name);
    for (char ch : header) {
      auto c = static_cast<unsigned char>(ch);
      ASSERT_TRUE(c >= 0x20 && c < 0x7F) << "byte " << int(c) << " in header for " << name;
    }
    Parts p = split(header);
    EXPECT_EQ(p.fallback.find_first_of("\"\\/%;"), std::string::npos) << name;
    EXPECT_FALSE(p.fallback.empty()) << name;
    EXPECT_LE(p.fallback.size(), 150u) << name;
    EXPECT_NE(p.fallback.front(), '.') << name;
    EXPECT_EQ(p.encoded.find_first_of("\"'; "), std::string::npos) << name;

    std::string display = sanitize_display_name(name);
    EXPECT_EQ(percent_decode(p.encoded, false), display) << name;
    EXPECT_TRUE(valid_utf8(display)) << name;
    EXPECT_FALSE(display.empty()) << name;
    EXPECT_LE(code_points(display), 200u) << name;
    EXPECT_EQ(display.find_first_of("/\\\r\n\t"s + '\0'), std::string::npos) << name;
    EXPECT_EQ(display.find(kRlo), std::string::npos) << name;
    EXPECT_NE(display.front(), '.') << name;
    // Cleaning is idempotent: the page can clean a cleaned name again.
    EXPECT_EQ(sanitize_display_name(display), display) << name;
  }
}

TEST(ContentHeaders, ResponseContentTypeAllowsOnlyPassiveTypes) {
  struct Case {
    std::string recorded, served;
  };
  const std::string octet = "application/octet-stream";
  const Case cases[] = {
      {"application/pdf", "application/pdf"},
      {"Application/PDF; name=\"x.pdf\"", "application/pdf"},
      {"  image/png  ", "image/png"},
      {"image/jpeg", "image/jpeg"},
      {"IMAGE/GIF", "image/gif"},
      {"application/zip", "application/zip"},
      {"text/plain; charset=iso-8859-1", "text/plain"},
      {"text/plain", "text/plain"},
      {"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
       "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
      {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
      {"application/vnd.openxmlformats-officedocument.presentationml.presentation",
       "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
      {"application/msword", "application/msword"},
      {"application/vnd.ms-excel", "application/vnd.ms-excel"},
      // Active or renderable content.
      {"text/html", octet},
      {"text/html; charset=utf-8", octet},
      {"image/svg+xml", octet},
      {"application/xhtml+xml", octet},
      {"application/javascript", octet},
      {"text/javascript", octet},
      {"text/xml", octet},
      {"application/xml", octet},
      {"multipart/x-mixed-replace", octet},
      // Not on the list, even if harmless.
      {"image/webp", octet},
      {"application/vnd.ms-excel.sheet.macroEnabled.12", octet},
      {"application/vnd.openxmlformats-officedocument.wordprocessingml.template", octet},
      // Malformed.
      {"", octet},
      {";", octet},
      {"image", octet},
      {"image/", octet},
      {"/png", octet},
      {"image/pngx", octet},
      {"image / png", octet},
      {"image/png\r\nX-Evil: 1", octet},
      {"image/png\0"s, octet},
      {"text/plain,text/html", octet},
      {"\xC3\xA9mage/png", octet},
  };
  for (const Case& c : cases) EXPECT_EQ(response_content_type(c.recorded), c.served) << c.recorded;
}

TEST(ContentHeaders, SecurityHeadersAreAllThereOnce) {
  auto headers = security_headers();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"Content-Security-Policy",
       "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
      {"Cache-Control", "no-store"},
  };
  EXPECT_EQ(headers, expected);
  std::set<std::string> names;
  for (const auto& [name, value] : headers) {
    EXPECT_TRUE(names.insert(ascii_lower(name)).second) << "duplicate " << name;
    EXPECT_EQ(value.find_first_of("\r\n"), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace attachgate::web
