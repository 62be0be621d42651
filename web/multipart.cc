// web/multipart.cc - see multipart.h.
#include "web/multipart.h"

#include <utility>
#include <vector>

#include "util/text.h"

namespace attachgate::web {
namespace {

// "form-data; name=\"file\"; filename=\"a b.pdf\"" into the value and its
// parameters (names lowered, quoted strings unquoted). Parameters that do
// not parse are skipped: a part is judged by what the caller needs of it.
struct HeaderValue {
  std::string value;
  std::vector<std::pair<std::string, std::string>> params;
  const std::string* param(std::string_view name) const {
    for (const auto& [k, v] : params)
      if (k == name) return &v;
    return nullptr;
  }
};

HeaderValue parse_header_value(std::string_view s) {
  HeaderValue out;
  std::size_t semi = s.find(';');
  out.value = ascii_lower(trim_blanks(s.substr(0, semi)));
  std::size_t i = semi == std::string_view::npos ? s.size() : semi + 1;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ';')) ++i;
    std::size_t eq = s.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string name = ascii_lower(trim_blanks(s.substr(i, eq - i)));
    i = eq + 1;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        value.push_back(s[i]);
      }
      ++i;  // the closing quote
      while (i < s.size() && s[i] != ';') ++i;
    } else {
      std::size_t end = s.find(';', i);
      if (end == std::string_view::npos) end = s.size();
      value = std::string(trim_blanks(s.substr(i, end - i)));
      i = end;
    }
    out.params.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

bool boundary_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

}  // namespace

Result<std::string> form_data_boundary(std::string_view content_type) {
  HeaderValue h = parse_header_value(content_type);
  if (h.value != "multipart/form-data")
    return make_error("the body must be multipart/form-data");
  const std::string* b = h.param("boundary");
  if (b == nullptr || b->empty() || b->size() > 70 || b->back() == ' ')
    return make_error("multipart/form-data needs a boundary of 1 to 70 characters");
  for (char c : *b)
    if (!boundary_char(c)) return make_error("the multipart boundary has a character RFC 2046 does not allow");
  return *b;
}

MultipartReader::MultipartReader(std::string boundary, Callbacks callbacks)
    : delimiter_("\r\n--" + boundary), callbacks_(std::move(callbacks)) {
  // The first boundary may open the body, without the CRLF before it.
  pending_ = "\r\n";
}

Status MultipartReader::fail(std::string message) {
  state_ = State::failed;
  pending_.clear();
  return make_error(std::move(message));
}

Status MultipartReader::feed(const char* data, std::size_t size) {
  if (state_ == State::failed) return make_error("the upload was already refused");
  if (state_ == State::done) return Status{};  // the epilogue is ignored
  pending_.append(data, size);
  for (bool progressed = true; progressed && state_ != State::done;) {
    progressed = false;
    if (auto s = step(progressed); !s) {
      state_ = State::failed;
      pending_.clear();
      return s;
    }
  }
  if (state_ == State::done) pending_.clear();
  return Status{};
}

Status MultipartReader::step(bool& progressed) {
  switch (state_) {
    case State::preamble: {
      std::size_t at = pending_.find(delimiter_);
      if (at == std::string::npos) {
        // Keep only what could be the start of the first boundary.
        if (pending_.size() >= delimiter_.size()) {
          const std::size_t drop = pending_.size() - delimiter_.size() + 1;
          preamble_bytes_ += drop;
          pending_.erase(0, drop);
        }
        if (preamble_bytes_ > kMaxPreambleBytes) return fail("no multipart boundary in the body");
        return Status{};
      }
      // The same limit whether the boundary came in this piece or a later one.
      if (preamble_bytes_ + at > kMaxPreambleBytes) return fail("no multipart boundary in the body");
      pending_.erase(0, at + delimiter_.size());
      state_ = State::after_boundary;
      progressed = true;
      return Status{};
    }
    case State::after_boundary: {
      // "--" closes the body; otherwise optional blanks, then CRLF.
      if (pending_.size() < 2) return Status{};
      if (pending_.compare(0, 2, "--") == 0) {
        state_ = State::done;
        progressed = true;
        return Status{};
      }
      std::size_t i = 0;
      while (i < pending_.size() && (pending_[i] == ' ' || pending_[i] == '\t')) ++i;
      if (i + 2 > pending_.size()) {
        if (i > 256) return fail("malformed multipart boundary line");
        return Status{};
      }
      if (pending_.compare(i, 2, "\r\n") != 0) return fail("malformed multipart boundary line");
      pending_.erase(0, i + 2);
      state_ = State::headers;
      progressed = true;
      return Status{};
    }
    case State::headers: {
      std::size_t end = pending_.find("\r\n\r\n");
      // A part without headers starts with the blank line at once.
      if (pending_.compare(0, 2, "\r\n") == 0) end = 0;
      if (end == std::string::npos) {
        if (pending_.size() > kMaxPartHeaderBytes) return fail("a multipart part's headers are too large");
        return Status{};
      }
      if (end > kMaxPartHeaderBytes) return fail("a multipart part's headers are too large");
      std::string block = pending_.substr(0, end);
      pending_.erase(0, end == 0 ? 2 : end + 4);
      if (auto s = start_part(block); !s) return s;
      state_ = State::data;
      progressed = true;
      return Status{};
    }
    case State::data: {
      std::size_t at = pending_.find(delimiter_);
      std::size_t hand_on = at;
      if (at == std::string::npos)
        hand_on = pending_.size() >= delimiter_.size() ? pending_.size() - delimiter_.size() + 1 : 0;
      if (hand_on > 0) {
        if (auto s = callbacks_.on_data(pending_.data(), hand_on); !s) return s;
        pending_.erase(0, hand_on);
      }
      if (at == std::string::npos) return Status{};
      pending_.erase(0, delimiter_.size());
      if (auto s = callbacks_.on_part_end(); !s) return s;
      state_ = State::after_boundary;
      progressed = true;
      return Status{};
    }
    case State::done:
    case State::failed:
      return Status{};
  }
  return Status{};
}

Status MultipartReader::start_part(std::string_view block) {
  PartInfo info;
  bool disposition = false;
  while (!block.empty()) {
    std::size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block = eol == std::string_view::npos ? std::string_view{} : block.substr(eol + 2);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return make_error("a multipart part has a malformed header line");
    std::string_view name = trim_blanks(line.substr(0, colon));
    std::string_view value = line.substr(colon + 1);
    if (equals_nocase(name, "Content-Disposition")) {
      HeaderValue h = parse_header_value(value);
      if (h.value != "form-data") return make_error("a multipart part is not form-data");
      if (const std::string* n = h.param("name")) info.name = *n;
      if (const std::string* f = h.param("filename")) info.filename = *f;
      disposition = true;
    } else if (equals_nocase(name, "Content-Type")) {
      info.content_type = std::string(trim_blanks(value));
    }
  }
  if (!disposition || info.name.empty())
    return make_error("a multipart part has no Content-Disposition name");
  return callbacks_.on_part(info);
}

Status MultipartReader::finish() {
  if (state_ == State::failed) return make_error("the upload was already refused");
  if (state_ != State::done) {
    state_ = State::failed;
    return make_error("the body ended before the closing multipart boundary");
  }
  return Status{};
}

}  // namespace attachgate::web
