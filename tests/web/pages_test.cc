// Tests web/pages.cc: the shipped templates keep the page contract the
// server and the browser tests rely on (forms, buttons, meta, no script or
// inline style), untrusted values come out escaped and cleaned, the code
// form never shows a file name, and a broken template is refused at load
// with file:line.
#include "web/pages.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/temp_dir.h"

namespace attachgate::web {
namespace {

namespace fs = std::filesystem;

std::string source_dir() {
  if (const char* d = std::getenv("ATTACHGATE_SOURCE_DIR")) return d;
  return fs::path(__FILE__).parent_path().parent_path().parent_path().string();  // run outside ctest
}

std::string templates_dir() { return source_dir() + "/templates"; }

const PageRenderer& shipped() {
  static const PageRenderer r = [] {
    auto loaded = PageRenderer::load(templates_dir());
    if (!loaded.ok()) {
      ADD_FAILURE() << loaded.error().message;
      std::abort();
    }
    return std::move(loaded).value();
  }();
  return r;
}

bool has(const std::string& page, std::string_view what) { return page.find(what) != std::string::npos; }

std::size_t count(const std::string& page, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = page.find(what); at != std::string::npos; at = page.find(what, at + 1)) ++n;
  return n;
}

LandingPage sample() {
  LandingPage p;
  p.action = "/d/TOKEN123";
  p.sender = "alice@example.org";
  p.expires = "2026-11-29 14:00 UTC";
  p.files = {{"F1", "report.pdf", "31.2 MB", "PDF document", 2, true},
             {"F2", "photos.zip", "31.2 MB", "ZIP archive", 2, true}};
  p.total_size = "62.4 MB";
  return p;
}

// A status page: one shared link, or (per_recipient) Bob with a link of his
// own and Dave, who got the attachment in the mail.
StatusPage status_sample(bool per_recipient) {
  StatusPage p;
  p.action = "/s/STATUS123";
  p.csrf = "CSRF123";
  p.subject = "Figures";
  p.sent = "2026-11-23 18:00:00 UTC";
  p.state = "active";
  p.active = true;
  p.per_recipient = per_recipient;
  p.several_links = per_recipient;  // as if Carol had a link too
  p.files = {{"F1", "report.pdf", "31.2 MB", "", 1, true}};
  StatusRecipient bob, dave;
  bob.address = "bob@example.net";
  bob.delivery = "delivered 2026-11-23 18:00:05 UTC";
  dave.address = "dave@corp.example";
  dave.delivery = "no delivery news yet";
  if (per_recipient) {
    bob.own_link = true;
    bob.opened = "not yet";
    bob.state = "active";
    bob.expires = "2026-11-30 18:00:00 UTC";
    bob.active = true;
    bob.uses = {{"report.pdf", "1 of 1", "2026-11-23 18:05:00 UTC"}};
  }
  p.recipients = {bob, dave};
  return p;
}

// Every page the server can send, rendered from the sample values.
std::vector<std::pair<std::string, std::string>> every_page() {
  LandingPage coded = sample();
  coded.code_required = true;
  coded.code = "C0DE";
  coded.message = "Wrong code. 2 tries left.";
  coded.offer_all = true;
  return {
      {"landing", shipped().landing(sample())},
      {"landing with code", shipped().landing(coded)},
      {"code_form", shipped().code_form(coded)},
      {"gone", shipped().gone({"This link has expired", "It expired on 2026-11-29."})},
      {"not_found", shipped().not_found()},
      {"problem", shipped().problem({"Too many requests", "Wait a minute."})},
      {"status", shipped().status(status_sample(false))},
      {"status per recipient", shipped().status(status_sample(true))},
  };
}

TEST(PagesShipped, EveryPageKeepsTheContract) {
  for (const auto& [which, page] : every_page()) {
    SCOPED_TRACE(which);
    EXPECT_EQ(page.find("<!doctype html>"), 0u) << page.substr(0, 80);
    for (const char* want : {"<html lang=\"en\">", "<meta charset=\"utf-8\">",
                             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
                             "<meta name=\"robots\" content=\"noindex, nofollow\">",
                             "<link rel=\"stylesheet\" href=\"/static/style.css\">", "<title>", "</main>"})
      EXPECT_TRUE(has(page, want)) << want << "\n" << page;
    EXPECT_EQ(count(page, "<main>"), 1u) << page;
    EXPECT_EQ(count(page, "<h1>"), 1u) << page;
    for (const char* banned : {"<script", "<style", "style=", "http://", "https://", "javascript:", "{{"})
      EXPECT_FALSE(has(page, banned)) << banned << "\n" << page;
  }
}

TEST(PagesShipped, StylesheetIsSmallAndCoversTheBasics) {
  const std::string& css = shipped().stylesheet();
  EXPECT_FALSE(css.empty());
  EXPECT_LT(css.size(), 4096u);
  for (const char* want : {"max-width", ":focus-visible", "prefers-color-scheme: dark", ".visually-hidden", "44px"})
    EXPECT_TRUE(has(css, want)) << want;
  EXPECT_FALSE(has(css, "http")) << "no external resources";
  EXPECT_FALSE(has(css, "@import"));
}

TEST(PagesLanding, EachAvailableFileHasItsButton) {
  LandingPage p = sample();
  p.files[1].available = false;
  p.offer_all = true;
  const std::string h = shipped().landing(p);
  EXPECT_TRUE(has(h, "<form method=\"post\" action=\"&#x2F;d&#x2F;TOKEN123\">")) << h;
  EXPECT_TRUE(has(h, "<button type=\"submit\" name=\"file\" value=\"F1\" aria-label=\"Download report.pdf\">"
                     "Download</button>"))
      << h;
  EXPECT_FALSE(has(h, "value=\"F2\"")) << "a used-up file has no button\n" << h;
  EXPECT_TRUE(has(h, "photos.zip")) << h;
  EXPECT_EQ(count(h, "Already downloaded"), 1u) << h;
  EXPECT_TRUE(has(h, "<button type=\"submit\" name=\"file\" value=\"all\">Download all (.zip)</button>")) << h;
  for (const char* want : {"31.2 MB", "PDF document", "2 downloads left", "62.4 MB", "2026-11-29 14:00 UTC",
                           "alice@example.org"})
    EXPECT_TRUE(has(h, want)) << want << "\n" << h;
  EXPECT_FALSE(has(h, "type=\"hidden\"")) << "no code was asked for\n" << h;
  EXPECT_FALSE(has(h, "role=\"alert\"")) << "no message\n" << h;
}

TEST(PagesLanding, DownloadAllOnlyWhenOffered) {
  const std::string h = shipped().landing(sample());
  EXPECT_FALSE(has(h, "value=\"all\"")) << h;
  EXPECT_EQ(count(h, "name=\"file\""), 2u) << h;
}

TEST(PagesLanding, SaysUntilWhenAndHowOften) {
  LandingPage p = sample();
  std::string h = shipped().landing(p);
  EXPECT_TRUE(has(h, "This link works until 2026-11-29 14:00 UTC.")) << h;
  EXPECT_TRUE(has(h, "Each file can be downloaded 2 more times.")) << h;

  p.files[0].downloads_left = 1;
  p.files[1].downloads_left = 1;
  EXPECT_TRUE(has(shipped().landing(p), "Each file can be downloaded 1 more time.")) << h;

  p.files[1].downloads_left = 3;
  h = shipped().landing(p);
  EXPECT_FALSE(has(h, "Each file can be downloaded")) << h;
  EXPECT_TRUE(has(h, "1 download left")) << h;
  EXPECT_TRUE(has(h, "3 downloads left")) << h;
}

TEST(PagesLanding, CarriesTheCodeOnlyWhenUnlocked) {
  LandingPage p = sample();
  p.code_required = true;
  p.code = "AB12-\"x\"";
  std::string h = shipped().landing(p);
  EXPECT_TRUE(has(h, "<input type=\"hidden\" name=\"code\" value=\"AB12-&quot;x&quot;\">")) << h;
  // The hidden input sits inside the form, before it closes.
  EXPECT_LT(h.find("name=\"code\""), h.find("</form>"));
  EXPECT_GT(h.find("name=\"code\""), h.find("<form"));

  p.code.clear();
  EXPECT_FALSE(has(shipped().landing(p), "name=\"code\""));
  p.code = "AB12";
  p.code_required = false;
  EXPECT_FALSE(has(shipped().landing(p), "name=\"code\""));
}

TEST(PagesLanding, HostileNameIsEscapedAndCleaned) {
  LandingPage p = sample();
  p.files[0].name = "<script>alert(1)</script>\"'&\xE2\x80\xAEgpj.exe\r\nX-Bcc: 1\x1b[2J";
  p.files[0].id = "F1\"><b>";
  p.sender = "\"><img src=x onerror=alert(1)>@example.org\xff";
  p.message = "<b>bold</b>";
  const std::string h = shipped().landing(p);
  EXPECT_FALSE(has(h, "<script>")) << h;
  EXPECT_FALSE(has(h, "<img")) << h;
  EXPECT_FALSE(has(h, "<b>")) << h;
  EXPECT_FALSE(has(h, "\xE2\x80\xAE")) << "RTL override survived";
  EXPECT_FALSE(has(h, "\r")) << h;
  EXPECT_FALSE(has(h, "\x1b")) << h;
  const std::string shown = "&lt;script&gt;alert(1)&lt;&#x2F;script&gt;&quot;&#39;&amp;gpj.exe X-Bcc: 1[2J";
  EXPECT_EQ(count(h, shown), 2u) << "in the list and in the button's label\n" << h;
  EXPECT_TRUE(has(h, "aria-label=\"Download " + shown + "\"")) << h;
  EXPECT_TRUE(has(h, "value=\"F1&quot;&gt;&lt;b&gt;\"")) << h;
  EXPECT_TRUE(has(h, "@example.org\xEF\xBF\xBD")) << "invalid UTF-8 shows as U+FFFD\n" << h;
  EXPECT_TRUE(has(h, "&lt;b&gt;bold&lt;&#x2F;b&gt;")) << h;
}

TEST(PagesLanding, EmptyNameAndNoSender) {
  LandingPage p = sample();
  p.files[0].name = "\xE2\x80\x8B\r\n";
  p.sender.clear();
  const std::string h = shipped().landing(p);
  EXPECT_TRUE(has(h, "aria-label=\"Download attachment\"")) << h;
  EXPECT_TRUE(has(h, "You were sent 2 files")) << h;
}

TEST(PagesCodeForm, HasTheFormAndNoFileNames) {
  LandingPage p = sample();
  p.code_required = true;
  p.files[0].name = "secret-merger-plan.pdf";
  p.files[0].id = "FILEID1";
  p.files[0].type = "SECRET-TYPE";
  p.files[0].size = "12.3 KB";
  const std::string h = shipped().code_form(p);
  for (const char* banned : {"secret-merger-plan", "photos.zip", "FILEID1", "SECRET-TYPE", "12.3 KB", "name=\"file\""})
    EXPECT_FALSE(has(h, banned)) << banned << "\n" << h;
  for (const char* want : {"<form method=\"post\" action=\"&#x2F;d&#x2F;TOKEN123\"", "<label for=\"code\">Access code</label>",
                           "<input id=\"code\" name=\"code\" type=\"text\" inputmode=\"text\" autocomplete=\"one-time-code\"",
                           " required", "<button type=\"submit\">Unlock</button>", "alice@example.org", "2 files",
                           "62.4 MB", "2026-11-29 14:00 UTC", "separately"})
    EXPECT_TRUE(has(h, want)) << want << "\n" << h;
  EXPECT_FALSE(has(h, "autofocus")) << h;
  EXPECT_FALSE(has(h, "role=\"alert\"")) << h;
}

TEST(PagesCodeForm, MessageIsAnAlert) {
  LandingPage p = sample();
  p.code_required = true;
  p.message = "Wrong code <again>. 2 tries left.";
  const std::string h = shipped().code_form(p);
  EXPECT_TRUE(has(h, "role=\"alert\"")) << h;
  EXPECT_TRUE(has(h, "Wrong code &lt;again&gt;. 2 tries left.")) << h;
  EXPECT_LT(h.find("role=\"alert\""), h.find("Wrong code")) << h;
}

TEST(PagesOther, GoneAndProblemShowTitleDetailAndWhatToDo) {
  const std::string g = shipped().gone({"This link was revoked", "The sender <revoked> it.\x07"});
  EXPECT_TRUE(has(g, "<h1>This link was revoked</h1>")) << g;
  EXPECT_TRUE(has(g, "The sender &lt;revoked&gt; it.")) << g;
  EXPECT_FALSE(has(g, "\x07"));
  EXPECT_TRUE(has(g, "Ask the sender to send the file again.")) << g;

  const std::string p = shipped().problem({"Service unavailable", "The server is busy."});
  EXPECT_TRUE(has(p, "<h1>Service unavailable</h1>")) << p;
  EXPECT_TRUE(has(p, "The server is busy.")) << p;
  EXPECT_TRUE(has(p, "Try again")) << p;

  const std::string n = shipped().not_found();
  EXPECT_TRUE(has(n, "<h1>Link not found</h1>")) << n;
  EXPECT_TRUE(has(n, "Ask the sender to send the file again.")) << n;
}

// ---- broken templates are refused with file:line ----------------------------

class PagesBrokenTemplate : public ::testing::Test {
 protected:
  PagesBrokenTemplate() {
    for (const auto& e : fs::directory_iterator(templates_dir()))
      fs::copy_file(e.path(), fs::path(dir_.path()) / e.path().filename());
  }
  // Replaces one file and returns load()'s error, "" if it loaded.
  std::string load_with(const std::string& file, const std::string& text) {
    std::ofstream(dir_ / file, std::ios::trunc) << text;
    return load();
  }
  std::string load() {
    auto r = PageRenderer::load(dir_.path());
    return r ? "" : r.error().message;
  }
  static constexpr const char* kHead = "<!doctype html>\n<html lang=\"en\">\n<main>\n";
  attachgate::testing::TempDir dir_;
};

TEST_F(PagesBrokenTemplate, TheShippedCopyLoads) { EXPECT_EQ(load(), ""); }

TEST_F(PagesBrokenTemplate, UnknownNameNamesFileAndLine) {
  const std::string e = load_with("gone.html", std::string(kHead) + "<h1>{{title}}</h1>\n<p>{{detial}}</p>\n");
  EXPECT_NE(e.find("gone.html:5: unknown name 'detial'"), std::string::npos) << e;
}

TEST_F(PagesBrokenTemplate, UnclosedSectionNamesFileAndLine) {
  const std::string e = load_with("code_form.html", std::string(kHead) +
                                                        "<form action=\"{{action}}\">\n{{#has_message}}\n{{message}}\n");
  EXPECT_NE(e.find("code_form.html:5: section 'has_message' is never closed"), std::string::npos) << e;
}

TEST_F(PagesBrokenTemplate, CodeFormCannotReachFileNames) {
  const std::string e = load_with("code_form.html", std::string(kHead) +
                                                        "<form action=\"{{action}}\">{{message}}\n{{#files}}{{name}}{{/files}}\n");
  EXPECT_NE(e.find("code_form.html:5: unknown name 'files'"), std::string::npos) << e;
}

TEST_F(PagesBrokenTemplate, FileFieldsOutsideTheListAreRefused) {
  const std::string e = load_with("landing.html", std::string(kHead) + "{{name}}\n");
  EXPECT_NE(e.find("landing.html:4: 'name' is only defined inside {{#files}}"), std::string::npos) << e;
}

TEST_F(PagesBrokenTemplate, UnescapedValueIsRefused) {
  const std::string e = load_with("problem.html", std::string(kHead) + "<h1>{{{title}}}</h1>\n");
  EXPECT_NE(e.find("problem.html:4: 'title' would be written unescaped"), std::string::npos) << e;
}

TEST_F(PagesBrokenTemplate, WhatTheCspBlocksIsRefused) {
  std::string e = load_with("gone.html", std::string(kHead) + "<h1 style=\"color:red\">{{title}}</h1>\n");
  EXPECT_NE(e.find("gone.html:4: style attributes are blocked"), std::string::npos) << e;
  e = load_with("gone.html", std::string(kHead) + "<h1>{{title}}</h1>\n<SCRIPT>alert(1)</SCRIPT>\n");
  EXPECT_NE(e.find("gone.html:5: scripts are blocked"), std::string::npos) << e;
  e = load_with("gone.html", std::string(kHead) + "<style>h1{}</style><h1>{{title}}</h1>\n");
  EXPECT_NE(e.find("gone.html:4: style elements are blocked"), std::string::npos) << e;
}

TEST_F(PagesBrokenTemplate, LandingWithoutDownloadButtonsIsRefused) {
  const std::string e = load_with(
      "landing.html", std::string(kHead) +
                          "<form action=\"{{action}}\">{{#has_code}}{{code}}{{/has_code}}{{message}}\n"
                          "{{#files}}{{name}}{{/files}}</form>\n");
  EXPECT_NE(e.find("landing.html: a sample page rendered without the download button"), std::string::npos) << e;
}

TEST_F(PagesBrokenTemplate, MissingFilesAreRefused) {
  fs::remove(fs::path(dir_.path()) / "not_found.html");
  std::string e = load();
  EXPECT_NE(e.find("not_found.html: cannot open"), std::string::npos) << e;
  std::ofstream(dir_ / "not_found.html") << "<h1>Not found</h1>\n";
  fs::remove(fs::path(dir_.path()) / "style.css");
  e = load();
  EXPECT_NE(e.find("style.css: cannot open"), std::string::npos) << e;
}

TEST(PagesStatus, PerRecipientRowsSayWhatEachGotAndOfferTheirOwnRevoke) {
  const std::string h = shipped().status(status_sample(true));
  EXPECT_TRUE(has(h, "<dt>report.pdf</dt><dd>1 of 1 downloads: 2026-11-23 18:05:00 UTC</dd>")) << h;
  EXPECT_TRUE(has(h, "<dt>Opened</dt><dd>not yet</dd>")) << h;
  EXPECT_TRUE(has(h, "got the attachment in the mail")) << h;
  EXPECT_EQ(count(h, "value=\"revoke-recipient\""), 1u) << "Dave has no link to revoke\n" << h;
  EXPECT_TRUE(has(h, "<input type=\"hidden\" name=\"recipient\" value=\"bob@example.net\">")) << h;
  EXPECT_EQ(count(h, "name=\"csrf\" value=\"CSRF123\""), 2u) << "each form carries the csrf\n" << h;
  EXPECT_TRUE(has(h, "Revoke all links now")) << h;
  // A row's own "active" decides its button, not the page's.
  StatusPage ended = status_sample(true);
  ended.recipients[0].active = false;
  ended.recipients[0].state = "used up";
  const std::string e = shipped().status(ended);
  EXPECT_FALSE(has(e, "revoke-recipient")) << e;
  EXPECT_TRUE(has(e, "Revoke all links now")) << e;

  const std::string shared = shipped().status(status_sample(false));
  EXPECT_FALSE(has(shared, "revoke-recipient")) << shared;
  EXPECT_FALSE(has(shared, "got the attachment")) << shared;
  EXPECT_TRUE(has(shared, "Revoke the link now")) << shared;
  EXPECT_TRUE(has(shared, "1 download left")) << shared;
}

TEST(PagesStatus, HostileAddressIsEscapedInTheRowAndItsForm) {
  StatusPage p = status_sample(true);
  p.recipients[0].address = "\"><script>alert(1)</script>@evil.example";
  const std::string h = shipped().status(p);
  EXPECT_FALSE(has(h, "<script")) << h;
  EXPECT_TRUE(has(h, "&quot;&gt;&lt;script&gt;")) << h;
}

}  // namespace
}  // namespace attachgate::web
