// notify/mail_text.cc - see mail_text.h.
#include "notify/mail_text.h"

#include <sodium.h>

#include <ctime>

#include "util/text.h"

namespace attachgate::notify {
namespace {

constexpr std::size_t kQpLine = 76;  // RFC 2045's limit, "=" of a soft break included

bool plain_ascii(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x7f) return false;
  return true;
}

std::string rfc5322_date(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

}  // namespace

std::string quoted_printable(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t column = 0;
  auto emit = [&](const std::string& piece) {
    if (column + piece.size() > kQpLine - 1) {
      out += "=\r\n";
      column = 0;
    }
    out += piece;
    column += piece.size();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\r\n";
      column = 0;
      continue;
    }
    if (c == '\r') continue;
    const bool line_end_next = i + 1 == text.size() || text[i + 1] == '\n';
    // Space and tab are literal except at the end of a line, where
    // transport may strip them.
    const bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end_next);
    if (literal) {
      emit(std::string(1, static_cast<char>(c)));
    } else {
      emit(std::string{'=', kHex[c >> 4], kHex[c & 15]});
    }
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

std::string header_word(const std::string& text) {
  if (plain_ascii(text)) return text;
  // Encoded words are at most 75 characters: 45 bytes of UTF-8 a word,
  // split only between characters.
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = std::min(text.size(), pos + 45);
    while (end < text.size() && end > pos + 1 &&
           (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
      --end;
    const std::string piece = text.substr(pos, end - pos);
    std::string b64(sodium_base64_encoded_len(piece.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(piece.data()),
                      piece.size(), sodium_base64_VARIANT_ORIGINAL);
    b64.resize(b64.size() - 1);  // the terminating NUL
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + b64 + "?=";
    pos = end;
  }
  return out;
}

std::string compose_mail(const MailHeaders& h, const std::string& body_utf8) {
  auto line = [](const std::string& v) { return clean_display_text(v, 900); };
  std::string m;
  m += "From: " + line(h.from) + "\r\n";
  m += "To: " + line(h.to) + "\r\n";
  m += "Subject: " + header_word(line(h.subject)) + "\r\n";
  m += "Date: " + rfc5322_date(h.date) + "\r\n";
  m += "Message-ID: <" + line(h.message_id) + ">\r\n";
  // RFC 3834: an automatic message; vacation responders must not answer it.
  m += "Auto-Submitted: auto-generated\r\n";
  m += "X-Attachgate-Notice: " + line(h.mark) + "\r\n";
  m += "X-Attachgate-Kind: " + line(h.kind) + "\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: text/plain; charset=utf-8\r\n";
  m += "Content-Transfer-Encoding: quoted-printable\r\n";
  m += "\r\n";
  m += quoted_printable(to_valid_utf8(body_utf8));
  return m;
}

}  // namespace attachgate::notify
