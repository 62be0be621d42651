// Tests watch/postfix_log.cc on real-looking Postfix lines, lines of other
// daemons and programs, garbage and over-long lines. Times are read in UTC
// (TZ is set below), so the expected Unix times are fixed.
#include "watch/postfix_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <ctime>
#include <string>

namespace attachgate::watch {
namespace {

using store::EventKind;

// 2026-11-23 20:00:00 UTC: the lines below are from earlier that day.
constexpr std::int64_t kNow = 1795464000;
constexpr std::int64_t kAt = 1795456832;  // 2026-11-23 18:00:32 UTC

class PostfixLogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ::setenv("TZ", "UTC", 1);
    ::tzset();
  }
};

TEST_F(PostfixLogTest, SentIsDelivered) {
  auto r = parse_delivery_line(
      "Nov 23 18:00:32 mail postfix/smtp[123]: 4F2A1B3C: to=<bob@example.net>, "
      "relay=127.0.0.1[127.0.0.1]:2526, delay=0.1, delays=0.05/0/0.02/0.03, dsn=2.0.0, "
      "status=sent (250 2.0.0 Ok: queued as ABC)",
      kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->queue_id, "4F2A1B3C");
  EXPECT_EQ(r->recipient, "bob@example.net");
  EXPECT_EQ(r->kind, EventKind::delivered);
  EXPECT_EQ(r->at, kAt);
  EXPECT_EQ(r->relay, "127.0.0.1[127.0.0.1]:2526");
  EXPECT_EQ(r->dsn, "2.0.0");
  EXPECT_EQ(r->reply, "250 2.0.0 Ok: queued as ABC");
}

TEST_F(PostfixLogTest, MaillogFileAndIsoTimes) {
  // postlogd's maillog_file (Postfix 3.7) writes the syslog form with a
  // private syslog_name; rsyslog's high-precision form is ISO 8601.
  auto a = parse_delivery_line(
      "Nov 23 18:00:32 mail postfix-e2e/virtual[19701]: 37DD4110022: to=<bob@example.net>, "
      "relay=virtual, delay=0.36, delays=0.33/0.03/0/0, dsn=2.0.0, status=sent (delivered to maildir)",
      kNow);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->queue_id, "37DD4110022");
  EXPECT_EQ(a->at, kAt);
  EXPECT_EQ(a->reply, "delivered to maildir");
  auto b = parse_delivery_line(
      "2026-11-23T19:00:32.123456+01:00 mail postfix/lmtp[9]: 3Tq7Dk1Y8Sz9sNB: to=<x@y.example>, "
      "relay=mx[192.0.2.1]:24, delay=1, delays=1/0/0/0, dsn=2.0.0, status=sent (250 ok)",
      kNow);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->queue_id, "3Tq7Dk1Y8Sz9sNB");  // long queue ids
  EXPECT_EQ(b->at, kAt);
  EXPECT_EQ(parse_log_time("2026-11-23T18:00:32Z host x", kNow), kAt);
  EXPECT_EQ(parse_log_time("Nov  3 00:00:00 host x", kNow), 1793664000);
}

TEST_F(PostfixLogTest, DeferredKeepsTheRemoteReply) {
  auto r = parse_delivery_line(
      "Nov 23 18:00:32 mail postfix/smtp[77]: ABCDEF123: to=<carol@example.com>, "
      "orig_to=<carol, alias@example.com>, relay=mx.example.com[192.0.2.25]:25, delay=5, "
      "delays=0/0/5/0, dsn=4.2.0, status=deferred (host mx.example.com[192.0.2.25] said: "
      "450 4.2.0 <carol@example.com>: Recipient address rejected: Greylisted (in reply to RCPT TO "
      "command))",
      kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, EventKind::deferred);
  EXPECT_EQ(r->recipient, "carol@example.com");
  EXPECT_EQ(r->relay, "mx.example.com[192.0.2.25]:25");
  EXPECT_EQ(r->dsn, "4.2.0");
  EXPECT_EQ(r->reply,
            "host mx.example.com[192.0.2.25] said: 450 4.2.0 <carol@example.com>: Recipient address "
            "rejected: Greylisted (in reply to RCPT TO command)");
  auto refused = parse_delivery_line(
      "Nov 23 18:00:32 mail postfix/smtp[77]: ABCDEF123: to=<carol@example.com>, relay=none, "
      "delay=0.01, delays=0/0/0/0, dsn=4.4.1, status=deferred (connect to "
      "127.0.0.1[127.0.0.1]:1: Connection refused)",
      kNow);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->kind, EventKind::deferred);
  EXPECT_EQ(refused->relay, "none");
}

TEST_F(PostfixLogTest, Bounced) {
  auto r = parse_delivery_line(
      "Nov 23 18:00:32 mail postfix/smtp[5]: 9C1D2E3F4: to=<nobody@example.net>, "
      "relay=127.0.0.1[127.0.0.1]:2526, delay=0.2, delays=0.1/0/0/0.1, dsn=5.1.1, status=bounced "
      "(host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nobody@example.net>: Recipient address "
      "rejected: User unknown (in reply to RCPT TO command))",
      kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, EventKind::bounced);
  EXPECT_EQ(r->dsn, "5.1.1");
  EXPECT_NE(r->reply.find("550 5.1.1"), std::string::npos);
}

TEST_F(PostfixLogTest, OtherLinesAreNotDeliveries) {
  for (const char* line : {
           "Nov 23 18:00:31 mail postfix/smtpd[11]: 4F2A1B3C: client=unknown[127.0.0.1]",
           "Nov 23 18:00:31 mail postfix/cleanup[12]: 4F2A1B3C: message-id=<a@b>",
           "Nov 23 18:00:31 mail postfix/qmgr[13]: 4F2A1B3C: from=<alice@example.org>, size=812, "
           "nrcpt=1 (queue active)",
           "Nov 23 18:00:33 mail postfix/qmgr[13]: 4F2A1B3C: removed",
           "Nov 23 18:00:33 mail postfix/qmgr[13]: 4F2A1B3C: from=<alice@example.org>, "
           "status=expired, returned to sender",
           "Nov 23 18:00:33 mail postfix/bounce[14]: 4F2A1B3C: sender non-delivery notification: 5E6F",
           // An address verification probe is not a delivery.
           "Nov 23 18:00:33 mail postfix/smtp[15]: 4F2A1B3C: to=<bob@example.net>, relay=x[1.2.3.4]:25, "
           "delay=1, delays=1/0/0/0, dsn=2.1.5, status=deliverable (250 2.1.5 Ok)",
           // Other programs, even when their text looks like Postfix's.
           "Nov 23 18:00:33 mail dovecot: lmtp(bob): 4F2A1B3C: to=<bob@example.net>, status=sent (x)",
           "Nov 23 18:00:33 mail attachgate/milter[812]: 4F2A1B3C: offloaded 2 files",
           "Nov 23 18:00:33 mail logger: x postfix/smtp[1]: 4F2A1B3C: to=<b@e>, status=sent (y)",
       })
    EXPECT_FALSE(parse_delivery_line(line, kNow)) << line;
}

TEST_F(PostfixLogTest, GarbageIsRefused) {
  for (const char* line : {
           "", "\xff\xfe", "]: ", ": to=<", "Nov 23 18:00:32", "x/y[]: ABCDEF: to=<a>, status=sent",
           "a/b[1]: ABCDEF: to=<unterminated, status=sent (x)",
           "a/b[1]: AB: to=<a@b>, status=sent (short queue id)",
           "a/b[1]: ABCDEF: to=<a@b>, relay=x, dsn=2.0.0",  // no status
           "a/b[x1]: ABCDEF: to=<a@b>, status=sent (pid not digits)",
       })
    EXPECT_FALSE(parse_delivery_line(line, kNow)) << line;
}

TEST_F(PostfixLogTest, UnreadableTimeMeansNow) {
  auto r = parse_delivery_line(
      "<22>1 sometime mail postfix/smtp[1]: ABCDEF: to=<a@b>, relay=r, dsn=2.0.0, status=sent (ok)",
      kNow);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at, kNow);
  EXPECT_FALSE(parse_log_time("Feb 30 99:00:00 x", kNow));
  EXPECT_FALSE(parse_log_time("2026-13-01T00:00:00Z", kNow));
}

TEST_F(PostfixLogTest, SyslogTimeWithoutYearIsNeverInTheFuture) {
  // A "Dec 31" line read on 2 January belongs to the year before.
  constexpr std::int64_t kJan2 = 1798848000;  // 2027-01-02 00:00:00 UTC
  EXPECT_EQ(parse_log_time("Dec 31 23:00:00 host x", kJan2), kJan2 - 25 * 3600);
}

TEST_F(PostfixLogTest, VeryLongLinesAreRefused) {
  const std::string head =
      "Nov 23 18:00:32 mail postfix/smtp[1]: ABCDEF: to=<a@b>, relay=r, dsn=5.0.0, status=bounced (";
  std::string ok = head + std::string(1000, 'x') + ")";
  ASSERT_TRUE(parse_delivery_line(ok, kNow));
  std::string huge = head + std::string(kMaxLogLine, 'x') + ")";
  EXPECT_FALSE(parse_delivery_line(huge, kNow));
  // Long runs of the scanner's own separators stay cheap and refused.
  EXPECT_FALSE(parse_delivery_line(std::string(kMaxLogLine, ']') , kNow));
  EXPECT_FALSE(parse_delivery_line(std::string(kMaxLogLine - 10, '['), kNow));
}

}  // namespace
}  // namespace attachgate::watch
