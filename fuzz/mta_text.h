// fuzz/mta_text.h - a message's text as the MTA hands it to the milter.
#pragma once

#include <string>
#include <string_view>

namespace attachgate::fuzz {

// Every bare LF becomes CRLF, as Postfix passes lines to a milter.
inline std::string to_crlf(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += text[i];
  }
  return out;
}

}  // namespace attachgate::fuzz
