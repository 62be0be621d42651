// fuzz/gmime_view.h - GMime's view of a message, for harnesses that compare
// against it: parsed as processor.cc parses (persistent stream, loose
// RFC 2047 and parameter rules), then walked once over every MIME object.
#pragma once

#include <gmime/gmime.h>

#include <functional>
#include <string_view>

#include "milter/gobject_ptr.h"
#include "milter/processor.h"

namespace attachgate::fuzz {

inline milter::GPtr<GMimeMessage> parse_message(std::string_view raw) {
  milter::init_gmime();
  auto stream = milter::adopt(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  auto parser = milter::adopt(g_mime_parser_new_with_stream(stream.get()));
  g_mime_parser_set_persist_stream(parser.get(), TRUE);
  g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
  GMimeParserOptions* options = g_mime_parser_options_new();
  g_mime_parser_options_set_rfc2047_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
  g_mime_parser_options_set_parameter_compliance_mode(options, GMIME_RFC_COMPLIANCE_LOOSE);
  auto message = milter::adopt(g_mime_parser_construct_message(parser.get(), options));
  g_mime_parser_options_free(options);
  return message;
}

// Calls visit(object, depth) for obj and everything inside it: multipart
// children at depth + 1, and a message/rfc822 part's message body at
// depth + 1 (as scan.cc counts depth).
inline void walk(GMimeObject* obj, int depth, const std::function<void(GMimeObject*, int)>& visit) {
  if (obj == nullptr) return;
  visit(obj, depth);
  if (GMIME_IS_MULTIPART(obj)) {
    auto* mp = GMIME_MULTIPART(obj);
    for (int i = 0; i < g_mime_multipart_get_count(mp); ++i)
      walk(g_mime_multipart_get_part(mp, i), depth + 1, visit);
  } else if (GMIME_IS_MESSAGE_PART(obj)) {
    GMimeMessage* inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
    if (inner) walk(g_mime_message_get_mime_part(inner), depth + 1, visit);
  }
}

}  // namespace attachgate::fuzz
