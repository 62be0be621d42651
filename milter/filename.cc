// milter/filename.cc - see filename.h. The name cleaning itself is
// util/filename.cc (the web API's uploads need it too); this file recovers
// the name from a GMime part.
#include "milter/filename.h"

#include <memory>

namespace attachgate::milter {

std::string raw_part_filename(GMimeObject* part) {
  if (part == nullptr) return {};
  // GMime decodes RFC 2231 and RFC 2047 (quoted or not) in both parameters
  // and converts declared charsets to UTF-8; an undeclared or unknown charset
  // can still leave raw bytes, hence to_valid_utf8.
  const char* value = g_mime_object_get_content_disposition_parameter(part, "filename");
  if (value == nullptr || *value == '\0') value = g_mime_object_get_content_type_parameter(part, "name");
  if (value == nullptr) return {};
  return to_valid_utf8(value);
}

std::string part_filename(GMimeObject* part) {
  std::string type;
  if (part != nullptr) {
    if (GMimeContentType* ct = g_mime_object_get_content_type(part)) {
      std::unique_ptr<char, decltype(&g_free)> mime(g_mime_content_type_get_mime_type(ct), &g_free);
      if (mime) type = mime.get();
    }
  }
  return sanitize_filename(raw_part_filename(part), type);
}

}  // namespace attachgate::milter
