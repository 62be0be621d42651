// notify/mail_text.h - a mail from attachgate to a sender, as bytes for SMTP.
//
// The body is UTF-8 text sent quoted-printable, and a non-ASCII subject is
// an RFC 2047 word, so the whole message is 7-bit with CRLF line ends, as
// the rewritten mail is. Every header value is one line: CR, LF and other
// controls in values (a subject from mail) are dropped here.
#pragma once

#include <cstdint>
#include <string>

namespace attachgate::notify {

struct MailHeaders {
  std::string from, to, subject;
  std::string message_id;  // without angle brackets
  std::string mark;        // X-Attachgate-Notice value (store::notice_mark)
  std::string kind;        // receipt | download notice, for people reading headers
  std::int64_t date = 0;   // unix seconds
};

std::string compose_mail(const MailHeaders& headers, const std::string& body_utf8);

// Quoted-printable (RFC 2045) of UTF-8 text; "\n" line ends become CRLF.
std::string quoted_printable(const std::string& text);
// An RFC 2047 "B" word when text is not plain ASCII; text as is otherwise.
std::string header_word(const std::string& text);

}  // namespace attachgate::notify
