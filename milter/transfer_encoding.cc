// milter/transfer_encoding.cc - see transfer_encoding.h.
#include "milter/transfer_encoding.h"

#include <strings.h>

#include "util/text.h"

namespace attachgate::milter {

std::variant<TransferEncoding, EncodingDoubt> parse_transfer_encoding(const std::string& value) {
  std::size_t b = value.find_first_not_of(" \t\r\n");
  std::size_t e = value.find_last_not_of(" \t\r\n");
  const std::string token = b == std::string::npos ? "" : value.substr(b, e - b + 1);
  struct Known {
    const char* name;
    TransferEncoding encoding;
  };
  static constexpr Known kKnown[] = {
      {"7bit", TransferEncoding::identity},         {"8bit", TransferEncoding::identity},
      {"binary", TransferEncoding::identity},       {"base64", TransferEncoding::base64},
      {"quoted-printable", TransferEncoding::quoted_printable},
      {"x-uuencode", TransferEncoding::uuencode},   {"uuencode", TransferEncoding::uuencode},
      {"x-uue", TransferEncoding::uuencode},        {"uue", TransferEncoding::uuencode},
  };
  for (const auto& k : kKnown)
    if (strcasecmp(token.c_str(), k.name) == 0) return k.encoding;
  return EncodingDoubt{"unknown Content-Transfer-Encoding \"" + clean_display_text(token, 40) + "\""};
}

std::variant<TransferEncoding, EncodingDoubt> transfer_encoding_of(GMimeObject* part) {
  GMimeHeaderList* headers = g_mime_object_get_header_list(part);
  const char* value = nullptr;
  int seen = 0;
  for (int i = 0; headers && i < g_mime_header_list_get_count(headers); ++i) {
    GMimeHeader* h = g_mime_header_list_get_header_at(headers, i);
    if (g_ascii_strcasecmp(g_mime_header_get_name(h), "Content-Transfer-Encoding") != 0) continue;
    ++seen;
    value = g_mime_header_get_raw_value(h);
  }
  if (seen == 0) return TransferEncoding::identity;
  if (seen > 1) return EncodingDoubt{"two Content-Transfer-Encoding headers"};
  return parse_transfer_encoding(value ? value : "");
}

}  // namespace attachgate::milter
