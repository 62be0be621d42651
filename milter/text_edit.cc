// milter/text_edit.cc - see text_edit.h.
#include "milter/text_edit.h"

#include <iconv.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "milter/gobject_ptr.h"
#include "util/text.h"

namespace attachgate::milter {
namespace {

// Exact conversion or none: an unrepresentable character is an Error.
Result<std::string> convert(std::string_view in, const std::string& to, const std::string& from) {
  iconv_t cd = ::iconv_open(to.c_str(), from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return make_error("unknown charset " + from + "/" + to);
  std::string out;
  char* src = const_cast<char*>(in.data());
  std::size_t src_left = in.size();
  char buf[4096];
  for (;;) {
    char* dst = buf;
    std::size_t dst_left = sizeof buf;
    std::size_t rc = ::iconv(cd, src_left ? &src : nullptr, &src_left, &dst, &dst_left);
    out.append(buf, sizeof buf - dst_left);
    if (rc != static_cast<std::size_t>(-1)) {
      if (src_left == 0) break;
      continue;
    }
    if (errno == E2BIG) continue;
    ::iconv_close(cd);
    return make_error("text cannot be converted from " + from + " to " + to);
  }
  ::iconv_close(cd);
  return out;
}

Result<std::string> decoded_content(GMimePart* part, std::uint64_t max_bytes) {
  GMimeDataWrapper* content = g_mime_part_get_content(part);
  if (!content) return std::string();
  GMimeStream* raw = g_mime_data_wrapper_get_stream(content);
  gint64 len = raw ? g_mime_stream_length(raw) : 0;
  if (len < 0 || static_cast<std::uint64_t>(len) > max_bytes)
    return make_error("text part too large to edit");
  auto mem = adopt(g_mime_stream_mem_new());
  if (g_mime_data_wrapper_write_to_stream(content, mem.get()) < 0)
    return make_error("cannot decode text part");
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
  return std::string(reinterpret_cast<const char*>(bytes->data), bytes->len);
}

bool seven_bit_clean(std::string_view s) {
  std::size_t line = 0;
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80 || c == '\0') return false;
    line = c == '\n' ? 0 : line + 1;
    if (line > 998) return false;
  }
  return true;
}

std::string with_line_ends(std::string_view notice, bool crlf) {
  std::string out;
  for (char c : notice) {
    if (c == '\r') continue;
    if (c == '\n' && crlf) out += '\r';
    out += c;
  }
  return out;
}

std::size_t body_close(const std::string& html) {
  std::string l = ascii_lower(html);
  std::size_t pos = l.rfind("</body");
  return pos == std::string::npos ? html.size() : pos;
}

}  // namespace

Status add_notice_to_part(GMimePart* part, bool html, std::string_view notice,
                          std::uint64_t max_bytes) {
  const char* cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
  std::string charset = ascii_lower(cs ? cs : "us-ascii");
  if (charset.find("utf-16") != std::string::npos || charset.find("utf-32") != std::string::npos ||
      charset.find("ucs") != std::string::npos)
    return make_error("text part in " + charset + " is not edited");

  auto text = decoded_content(part, max_bytes);
  if (!text) return text.error();
  const bool crlf = text->find("\r\n") != std::string::npos || text->empty();
  std::string addition = with_line_ends(notice, crlf);

  const bool utf8_like = charset == "utf-8" || charset == "utf8" || charset == "us-ascii" ||
                         charset == "ascii";
  std::string body = std::move(*text);
  std::string new_charset = charset;
  if (utf8_like) {
    if (charset != "utf-8" && !seven_bit_clean(addition)) new_charset = "utf-8";
  } else if (auto in_charset = convert(addition, charset, "UTF-8")) {
    addition = std::move(*in_charset);
  } else {
    auto whole = convert(body, "UTF-8", charset);
    if (!whole) return whole.error();
    body = std::move(*whole);
    new_charset = "utf-8";
  }

  if (html) {
    body.insert(body_close(body), addition);
  } else {
    const std::string nl = crlf ? "\r\n" : "\n";
    if (!body.empty() && body.back() != '\n') body += nl;
    body += nl + addition;
  }

  auto stream = adopt(g_mime_stream_mem_new_with_buffer(body.data(), body.size()));
  auto wrapper = adopt(g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  const GMimeContentEncoding old_enc = g_mime_part_get_content_encoding(part);
  g_mime_part_set_content(part, wrapper.get());
  if (new_charset != charset)
    g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", new_charset.c_str());
  GMimeContentEncoding enc = old_enc;
  if (old_enc != GMIME_CONTENT_ENCODING_BASE64)
    enc = seven_bit_clean(body) ? GMIME_CONTENT_ENCODING_7BIT : GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
  if (old_enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE) enc = old_enc;
  g_mime_part_set_content_encoding(part, enc);
  return {};
}

}  // namespace attachgate::milter
