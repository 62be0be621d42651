// Tests notify/mail_text.cc: the mail to a sender is 7-bit, CRLF, with
// one-line headers, and its quoted-printable body decodes to the text.
#include "notify/mail_text.h"

#include <gtest/gtest.h>

namespace attachgate::notify {
namespace {

std::string decode_qp(const std::string& qp) {
  std::string out;
  for (std::size_t i = 0; i < qp.size(); ++i) {
    if (qp.compare(i, 3, "=\r\n") == 0) {
      i += 2;
    } else if (qp[i] == '=') {
      out += static_cast<char>(std::stoi(qp.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else if (qp.compare(i, 2, "\r\n") == 0) {
      out += '\n';
      ++i;
    } else {
      out += qp[i];
    }
  }
  return out;
}

TEST(QuotedPrintable, RoundTripsUtf8AndKeepsLinesShort) {
  const std::string text = "Grüße = 100 %\nline with trailing space \n" + std::string(300, 'x') +
                           "\n\tand a tab\n";
  const std::string qp = quoted_printable(text);
  EXPECT_EQ(decode_qp(qp), text);
  std::size_t start = 0;
  while (start < qp.size()) {
    std::size_t end = qp.find("\r\n", start);
    ASSERT_NE(end, std::string::npos);
    EXPECT_LE(end - start, 76u) << qp.substr(start, end - start);
    start = end + 2;
  }
  for (unsigned char c : qp) EXPECT_LT(c, 0x80);
  EXPECT_NE(qp.find("space=20\r\n"), std::string::npos) << "a space before a line end is encoded";
}

TEST(HeaderWord, AsciiStaysAndUtf8IsEncodedInShortWords) {
  EXPECT_EQ(header_word("Quarterly report"), "Quarterly report");
  const std::string word = header_word("Sent: Grüße " + std::string(100, 'a'));
  EXPECT_EQ(word.rfind("=?UTF-8?B?", 0), 0u);
  std::size_t start = 0;
  while (start < word.size()) {
    std::size_t end = word.find("\r\n ", start);
    if (end == std::string::npos) end = word.size();
    EXPECT_LE(end - start, 75u);
    start = end + 3;
  }
}

TEST(ComposeMail, HeadersAreOneLineEachAndTheMessageIsSevenBit) {
  MailHeaders h{"attachgate@example.org", "alice@example.org", "Re: evil\r\nBcc: x@example.com",
                "abc@example.org", "f00d", "receipt", 1'795'000'000};
  const std::string m = compose_mail(h, "Hallo Grüße\nzweite Zeile\n");
  EXPECT_EQ(m.find("\r\nBcc:"), std::string::npos) << m;
  EXPECT_NE(m.find("Subject: Re: evil Bcc: x@example.com\r\n"), std::string::npos) << m;
  EXPECT_NE(m.find("Message-ID: <abc@example.org>\r\n"), std::string::npos);
  EXPECT_NE(m.find("X-Attachgate-Notice: f00d\r\n"), std::string::npos);
  EXPECT_NE(m.find("Auto-Submitted: auto-generated\r\n"), std::string::npos);
  EXPECT_NE(m.find("Date: Wed, 18 Nov 2026"), std::string::npos) << m;
  for (std::size_t i = 0; i < m.size(); ++i) {
    EXPECT_LT(static_cast<unsigned char>(m[i]), 0x80);
    if (m[i] == '\n') {
      EXPECT_TRUE(i > 0 && m[i - 1] == '\r') << "bare LF at " << i;
    }
  }
  EXPECT_EQ(decode_qp(m.substr(m.find("\r\n\r\n") + 4)), "Hallo Grüße\nzweite Zeile\n");
}

}  // namespace
}  // namespace attachgate::notify
