// web/form.cc - see form.h.
//
// Limits are checked as each field is decoded, so a hostile body costs at
// most one pass over its bytes and never more than the limits in memory.
#include "web/form.h"

#include "util/text.h"

namespace attachgate::web {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes one name or value, or says in words why it cannot be used.
Result<std::string> decode_part(std::string_view raw, std::size_t max_bytes, const char* what) {
  // Every decoded byte takes at most 3 raw ones: past that, no need to decode.
  if (raw.size() / 3 > max_bytes) return make_error(std::string("form field ") + what + " is too long");
  std::optional<std::string> decoded = percent_decode(raw, true);
  if (!decoded) return make_error("form has a malformed percent escape");
  if (decoded->size() > max_bytes)
    return make_error(std::string("form field ") + what + " is too long");
  if (!valid_utf8(*decoded))
    return make_error(std::string("form field ") + what + " is not valid UTF-8");
  return std::move(*decoded);
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

const std::string* Form::get(std::string_view name) const {
  for (const auto& [field_name, value] : fields)
    if (field_name == name) return &value;
  return nullptr;
}

Result<Form> parse_form(std::string_view body) {
  Form form;
  while (!body.empty()) {
    std::size_t amp = body.find('&');
    std::string_view piece = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (piece.empty()) continue;
    if (form.fields.size() == kMaxFormFields) return make_error("form has too many fields");
    std::size_t eq = piece.find('=');
    std::string_view raw_name = piece.substr(0, eq);
    std::string_view raw_value = eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1);
    Result<std::string> name = decode_part(raw_name, kMaxFormNameBytes, "name");
    if (!name) return name.error();
    Result<std::string> value = decode_part(raw_value, kMaxFormValueBytes, "value");
    if (!value) return value.error();
    form.fields.emplace_back(std::move(*name), std::move(*value));
  }
  return form;
}

bool is_form_content_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  return equals_nocase(type, "application/x-www-form-urlencoded");
}

}  // namespace attachgate::web
