// Tests milter/processor.cc and session.cc on what goes wrong: hostile
// structure (deep nesting, many parts, huge headers), and faults injected in
// the store and catalog, after which nothing may be left behind.
#include <gtest/gtest.h>

#include <filesystem>

#include "milter/session.h"
#include "store/sql.h"
#include "tests/milter/processor_fixture.h"
#include "tests/support/test_catalog.h"

namespace attachgate::milter::testing {
namespace {

const std::string kPdfMessage = read_file(source_dir() + "/tests/milter/golden/pdf_attachment.in.eml");

std::string deep_message(int depth) {
  std::string m = "From: a@example.org\r\nTo: b@example.net\r\nSubject: deep\r\nMIME-Version: 1.0\r\n";
  std::string open, close;
  for (int i = 0; i < depth; ++i) {
    open += (i ? "--b" + std::to_string(i - 1) + "\r\n" : "") + std::string("Content-Type: multipart/mixed; boundary=\"b") +
            std::to_string(i) + "\"\r\n\r\n";
    close = "--b" + std::to_string(i) + "--\r\n" + close;
  }
  return m + open + "--b" + std::to_string(depth - 1) +
         "\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"d.pdf\"\r\n\r\n" +
         std::string(5000, 'A') + "\r\n" + close;
}

class ProcessorTest : public ProcessorFixture {};

TEST_F(ProcessorTest, ThousandDeepNestingPassesUnchanged) {
  Run r = process(deep_message(1000));
  EXPECT_EQ(r.outcome.action, Outcome::Action::pass);
  EXPECT_NE(r.outcome.log.find("nesting deeper than 32"), std::string::npos) << r.outcome.log;
  EXPECT_EQ(store_->catalog.count(store::CatalogTable::messages).value(), 0);
}

TEST_F(ProcessorTest, NestingWithinTheLimitIsProcessed) {
  Run r = process(deep_message(10));
  EXPECT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
}

TEST_F(ProcessorTest, TooManyPartsPassUnchanged) {
  std::string m = "From: a@example.org\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n";
  for (int i = 0; i < 600; ++i) m += "--p\r\nContent-Type: text/plain\r\n\r\nx\r\n";
  m += "--p--\r\n";
  Run r = process(m);
  EXPECT_EQ(r.outcome.action, Outcome::Action::pass);
  EXPECT_NE(r.outcome.log.find("more than 500 MIME parts"), std::string::npos) << r.outcome.log;
}

TEST_F(ProcessorTest, MegabyteHeaderLineDoesNotCrashTheParser) {
  std::string m = "From: a@example.org\r\nX-Huge: " + std::string(1 << 20, 'h') + "\r\n" +
                  kPdfMessage.substr(kPdfMessage.find("To:"));
  Run r = process(m);
  EXPECT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
}

TEST_F(ProcessorTest, InternalOnlyMailIsKept) {
  Run r = process(kPdfMessage, {"carol@example.org"});
  EXPECT_EQ(r.outcome.action, Outcome::Action::pass);
  EXPECT_EQ(r.outcome.log, "kept: 1 attachment, none selected by policy");
}

TEST_F(ProcessorTest, ASharedLinksLimitIsPerRecipientTimesRecipients) {
  use_policy_text("links = \"shared\"\n[[rule]]\nname = \"all\"\naction = \"offload\"\n");
  Run r = process(kPdfMessage, {"bob@example.net", "carol@example.com", "dave@example.net"});
  ASSERT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
  auto d = store_->catalog.show_message("4F2A1B3C").value().value();
  ASSERT_EQ(d.links.size(), 1u);
  EXPECT_EQ(d.links.at(0).max_downloads, 3);
  EXPECT_EQ(d.links.at(0).recipient, std::nullopt);
  EXPECT_EQ(d.links.at(0).expires_at, kNow + 7 * 86400);
  EXPECT_TRUE(r.outcome.removed_recipients.empty());
  EXPECT_NE(r.outcome.log.find("for 3 recipients"), std::string::npos) << r.outcome.log;
}

TEST_F(ProcessorTest, BlobStoreFailureTempfailsAndLeavesNothing) {
  namespace fs = std::filesystem;
  const std::string tmp = service_.state_dir + "/blobs/tmp";
  fs::remove_all(tmp);
  std::ofstream(tmp) << "not a directory";  // every blob write now fails
  Run r = process(kPdfMessage);
  EXPECT_EQ(r.outcome.action, Outcome::Action::tempfail);
  EXPECT_NE(r.outcome.log.find("tempfail"), std::string::npos);
  EXPECT_FALSE(r.outcome.body.has_value());
  EXPECT_EQ(store_->catalog.count(store::CatalogTable::messages).value(), 0);
}

TEST_F(ProcessorTest, CatalogFailureRemovesTheBlobsItWrote) {
  {
    auto db = store::Db::open(attachgate::testing::catalog_at(service_.state_dir + "/catalog.db"));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(attachgate::testing::fail_inserts(*db, "links", "injected fault").ok());
  }
  Run r = process(kPdfMessage);
  EXPECT_EQ(r.outcome.action, Outcome::Action::tempfail);
  EXPECT_NE(r.outcome.log.find("injected fault"), std::string::npos) << r.outcome.log;
  EXPECT_EQ(store_->catalog.count(store::CatalogTable::messages).value(), 0);
  EXPECT_EQ(store_->catalog.count(store::CatalogTable::files).value(), 0);
  EXPECT_TRUE(store_->blobs.list_blobs()->empty()) << "blob left behind";
  EXPECT_TRUE(store_->blobs.list_unfinished()->empty());
}

TEST_F(ProcessorTest, OnErrorAcceptPassesUnchangedInstead) {
  const std::string path = dir_.path() + "/accept.toml";
  std::ofstream(path) << "on_error = \"accept\"\n[[rule]]\nname = \"all\"\naction = \"offload\"\n";
  use_policy(path);
  std::filesystem::remove_all(service_.state_dir + "/blobs/tmp");
  std::ofstream(service_.state_dir + "/blobs/tmp") << "x";
  Run r = process(kPdfMessage);
  EXPECT_EQ(r.outcome.action, Outcome::Action::pass);
  EXPECT_NE(r.outcome.log.find("on_error = accept"), std::string::npos) << r.outcome.log;
  EXPECT_EQ(r.output, to_crlf(kPdfMessage));
}

TEST_F(ProcessorTest, NoticeIsNotHiddenInsideMultipartRelated) {
  // The HTML root cannot be edited (UTF-16), so a notice part is needed; as
  // the first part of multipart/related it would replace the root. It must
  // wrap the message in multipart/mixed instead.
  const std::string m =
      "From: a@example.org\r\nTo: b@example.net\r\nSubject: pic\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/related; boundary=\"r\"\r\n\r\n"
      "--r\r\nContent-Type: text/html; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "//48AGgAPgA=\r\n"
      "--r\r\nContent-Type: image/png\r\nContent-Disposition: inline; filename=\"pic.png\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" + std::string(5000, 'A') + "\r\n--r--\r\n";
  Run r = process(m);
  ASSERT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
  EXPECT_NE(r.output.find("\r\nContent-Type: multipart/mixed;"), std::string::npos) << r.output;
  const auto related = r.output.find("Content-Type: multipart/related");
  const auto notice = r.output.find("Content-Type: multipart/alternative");
  ASSERT_NE(related, std::string::npos);
  ASSERT_NE(notice, std::string::npos);
  EXPECT_LT(notice, related) << "the notice comes first in the mixed wrapper";
  EXPECT_NE(r.output.find("charset=utf-16", related), std::string::npos) << "the root is kept";
}

TEST_F(ProcessorTest, SubjectWithEncodedLineBreakIsWrittenAsOneLine) {
  std::string m = kPdfMessage;
  const std::string old_subject = m.substr(m.find("Subject:"), m.find('\n', m.find("Subject:")) - m.find("Subject:"));
  m.replace(m.find(old_subject), old_subject.size(),
            "Subject: =?us-ascii?q?hello=0D=0ABcc:_victim@example.net?= [secure]");
  Run r = process(m);
  ASSERT_EQ(r.outcome.action, Outcome::Action::modified) << r.outcome.log;
  bool saw_subject = false;
  for (const auto& c : r.outcome.header_changes) {
    if (c.name != "Subject") continue;
    saw_subject = true;
    EXPECT_EQ(c.value.find_first_of("\r\n"), std::string::npos) << c.value;
    EXPECT_EQ(c.value.find("[secure]"), std::string::npos) << c.value;
  }
  EXPECT_TRUE(saw_subject);
}

TEST_F(ProcessorTest, UndoRemovesRowsAndReportsBlobs) {
  Run r = process(kPdfMessage);
  ASSERT_EQ(r.outcome.action, Outcome::Action::modified);
  auto blobs = store_->catalog.remove_message(r.outcome.message_id);
  ASSERT_TRUE(blobs.ok());
  EXPECT_EQ(blobs->size(), 1u);
  EXPECT_EQ(store_->catalog.count(store::CatalogTable::messages).value(), 0);
  EXPECT_EQ(store_->catalog.count(store::CatalogTable::events).value(), 0);
}

// ---- Session: limits applied while the message streams in ------------------

class SessionTest : public ProcessorFixture {
 protected:
  Runtime runtime() {
    return Runtime(service_, source_dir() + "/tests/milter/golden/policy.toml", policy_, notices_, *store_);
  }
};

TEST_F(SessionTest, OversizedHeaderBlockPassesUnchanged) {
  service_.limits.max_header_bytes = 64 * 1024;
  Runtime rt = runtime();
  Session s(rt);
  ASSERT_EQ(s.on_mail_from("<alice@example.org>", ""), Verdict::next);
  std::string huge(1 << 20, 'h');
  // Headers get no answer; the verdict comes at end of headers.
  EXPECT_EQ(s.on_header("X-Huge", huge, false), Verdict::next);
  EXPECT_EQ(s.on_header("X-After", "more", false), Verdict::next);
  ASSERT_TRUE(s.skip_reason().has_value());
  EXPECT_EQ(s.on_end_of_headers(), Verdict::accept);
  EXPECT_NE(s.skip_reason()->find("header block"), std::string::npos);
}

TEST_F(SessionTest, OversizedBodyPassesUnchanged) {
  service_.limits.max_message_size = 10'000;
  Runtime rt = runtime();
  Session s(rt);
  ASSERT_EQ(s.on_mail_from("<alice@example.org>", ""), Verdict::next);
  ASSERT_EQ(s.on_end_of_headers(), Verdict::next);
  std::string chunk(8000, 'x');
  auto* p = reinterpret_cast<const unsigned char*>(chunk.data());
  EXPECT_EQ(s.on_body(p, chunk.size()), Verdict::next);
  EXPECT_EQ(s.on_body(p, chunk.size()), Verdict::accept);
  EXPECT_NE(s.skip_reason()->find("max_message_size"), std::string::npos);
}

TEST_F(SessionTest, OverlongBodyLinePassesUnchanged) {
  service_.limits.max_line_length = 1000;
  Runtime rt = runtime();
  Session s(rt);
  ASSERT_EQ(s.on_mail_from("<alice@example.org>", ""), Verdict::next);
  ASSERT_EQ(s.on_end_of_headers(), Verdict::next);
  const std::string ok = std::string(999, 'a') + "\r\n" + std::string(600, 'b');
  EXPECT_EQ(s.on_body(reinterpret_cast<const unsigned char*>(ok.data()), ok.size()), Verdict::next);
  // The line in progress continues across body chunks.
  const std::string more(500, 'c');
  EXPECT_EQ(s.on_body(reinterpret_cast<const unsigned char*>(more.data()), more.size()), Verdict::accept);
  ASSERT_TRUE(s.skip_reason().has_value());
  EXPECT_NE(s.skip_reason()->find("body line over"), std::string::npos) << *s.skip_reason();
}

TEST_F(SessionTest, OverlongHeaderLinePassesUnchanged) {
  service_.limits.max_line_length = 1000;
  Runtime rt = runtime();
  Session s(rt);
  ASSERT_EQ(s.on_mail_from("<alice@example.org>", ""), Verdict::next);
  EXPECT_EQ(s.on_header("X-Short", std::string(900, 'h'), false), Verdict::next);
  EXPECT_EQ(s.on_header("X-Long", std::string(1200, 'h'), false), Verdict::next);
  EXPECT_NE(s.skip_reason()->find("header line over"), std::string::npos);
  EXPECT_EQ(s.on_end_of_headers(), Verdict::accept);
  // The next message on the connection starts afresh.
  ASSERT_EQ(s.on_mail_from("<alice@example.org>", ""), Verdict::next);
  EXPECT_EQ(s.on_header("X-Short", "x", false), Verdict::next);
  EXPECT_EQ(s.on_end_of_headers(), Verdict::next);
}

// Sends a multipart/mixed body through a Session in 64 KiB chunks; returns
// the first verdict that is not "next" (or the end-of-message outcome's).
std::string run_body(Session& s, const std::string& body) {
  EXPECT_EQ(s.on_mail_from("<alice@example.org>", ""), Verdict::next);
  s.on_rcpt("<bob@example.net>");
  s.on_header("Content-Type", " multipart/mixed; boundary=\"b\"", true);
  EXPECT_EQ(s.on_end_of_headers(), Verdict::next);
  for (std::size_t off = 0; off < body.size(); off += 65536) {
    const auto n = std::min<std::size_t>(65536, body.size() - off);
    if (s.on_body(reinterpret_cast<const unsigned char*>(body.data() + off), n) != Verdict::next)
      return "accept: " + s.skip_reason().value_or("");
  }
  return s.on_end_of_message("QID2", {}).log;
}

// RCPT TO given twice is one recipient: the catalog lists it once, and the
// log counts it once (the MTA delivers it once).
TEST_F(SessionTest, ARecipientGivenTwiceCountsOnce) {
  Runtime rt = runtime();
  Session s(rt);
  ASSERT_EQ(s.on_mail_from("<alice@example.org>", ""), Verdict::next);
  for (const char* r : {"<bob@example.net>", "<carol@example.com>", "<bob@example.net>"})
    ASSERT_EQ(s.on_rcpt(r), Verdict::next);
  Eml eml = split(to_crlf(kPdfMessage));
  for (const auto& h : eml.headers) ASSERT_EQ(s.on_header(h.name, h.value, true), Verdict::next);
  ASSERT_EQ(s.on_end_of_headers(), Verdict::next);
  ASSERT_EQ(s.on_body(reinterpret_cast<const unsigned char*>(eml.body.data()), eml.body.size()),
            Verdict::next);
  Outcome out = s.on_end_of_message("QID3", {});
  EXPECT_EQ(out.action, Outcome::Action::modified) << out.log;
  EXPECT_NE(out.log.find("for 2 recipients"), std::string::npos) << out.log;
  auto d = store_->catalog.show_message("QID3").value();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->recipients, (std::vector<std::string>{"bob@example.net", "carol@example.com"}));
  s.end_message();
}

TEST_F(SessionTest, HugePreambleIsNeverHandedToTheParser) {
  Runtime rt = runtime();
  Session s(rt);
  std::string body;
  for (int i = 0; i < 5000; ++i) body += std::string(100, 'p') + "\r\n";  // 500 KB preamble
  body += "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n";
  const std::string verdict = run_body(s, body);
  EXPECT_NE(verdict.find("accept: multipart preamble over"), std::string::npos) << verdict;
}

TEST_F(SessionTest, MillionsOfTinyPartsAreNeverHandedToTheParser) {
  Runtime rt = runtime();
  Session s(rt);
  std::string body;
  for (int i = 0; i < 2000; ++i) body += "--b\r\n\r\nx\r\n";
  const std::string verdict = run_body(s, body + "--b--\r\n");
  EXPECT_NE(verdict.find("accept: more than 500 MIME parts"), std::string::npos) << verdict;
}

TEST_F(SessionTest, EpilogueOverTheLimitFoundAtEndOfMessage) {
  service_.limits.max_header_bytes = 2048;
  Runtime rt = runtime();
  Session s(rt);
  const std::string body = "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n" + std::string(1500, 'e') +
                           "\r\n" + std::string(1500, 'e');
  const std::string verdict = run_body(s, body);
  EXPECT_NE(verdict.find("epilogue over"), std::string::npos) << verdict;
}

TEST_F(SessionTest, WholeMessageThroughTheSessionSpillsToAFileAndIsOffloaded) {
  service_.limits.spool_memory_threshold = 1024;  // force the file path
  Runtime rt = runtime();
  Session s(rt);
  ASSERT_EQ(s.on_mail_from("<alice@example.org>", "alice"), Verdict::next);
  ASSERT_EQ(s.on_rcpt("<bob@example.net>"), Verdict::next);
  Eml eml = split(to_crlf(kPdfMessage));
  for (const auto& h : eml.headers) ASSERT_EQ(s.on_header(h.name, h.value, true), Verdict::next);
  ASSERT_EQ(s.on_end_of_headers(), Verdict::next);
  for (std::size_t off = 0; off < eml.body.size(); off += 700)
    ASSERT_EQ(s.on_body(reinterpret_cast<const unsigned char*>(eml.body.data() + off),
                        std::min<std::size_t>(700, eml.body.size() - off)),
              Verdict::next);
  int progress = 0;
  Outcome out = s.on_end_of_message("QID1", [&] { ++progress; });
  EXPECT_EQ(out.action, Outcome::Action::modified) << out.log;
  auto d = store_->catalog.show_message("QID1").value();
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->message.auth_user, "alice");
  EXPECT_EQ(d->recipients, std::vector<std::string>{"bob@example.net"});
  s.end_message();
  // The spool file was anonymous: nothing named is left in the spool dir.
  EXPECT_TRUE(std::filesystem::is_empty(service_.state_dir + "/spool"));
}

}  // namespace
}  // namespace attachgate::milter::testing
