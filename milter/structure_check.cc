// milter/structure_check.cc - stream a message body through a small MIME
// state machine that counts the bytes of preambles, epilogues and part
// header blocks, the blocks GMime would hold in memory.
//
// The body is untrusted: lines are never buffered whole (only their first
// 204 bytes and at most ~600 of their end), header fields are kept up to
// 16 KiB, boundaries over 200 bytes are ignored and at most max_depth
// boundaries are tracked. Work is linear in the body size times the tracked
// depth.
#include "milter/structure_check.h"

#include <algorithm>
#include <cstring>

#include <gmime/gmime.h>

#include "milter/processor.h"  // init_gmime
#include "util/text.h"

namespace attachgate::milter {
namespace {

constexpr std::size_t kMaxBoundary = 200;
constexpr std::size_t kHeadCap = 2 + kMaxBoundary + 2;  // "--" boundary "--"
constexpr std::size_t kMaxField = 16 * 1024;
constexpr int kMaxDepthCap = 1024;

struct ContentType {
  std::string type;     // lower case
  std::string subtype;  // lower case
  std::optional<std::string> boundary;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Whitespace GMime accepts after a boundary delimiter.
bool is_lwsp(char c) { return c == ' ' || c == '\t' || c == '\r'; }

bool is_token_char(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return c > 0x20 && c < 0x7F && !std::strchr("()<>@,;:\\\"/[]?=", c);
}

// Folding whitespace and (nested) comments.
void skip_cfws(std::string_view s, std::size_t& i) {
  int depth = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (depth > 0) {
      if (c == '\\') ++i;
      else if (c == '(') ++depth;
      else if (c == ')') --depth;
      ++i;
    } else if (c == '(') {
      depth = 1;
      ++i;
    } else if (is_space(c)) {
      ++i;
    } else {
      return;
    }
  }
  i = s.size();
}

std::string_view read_token(std::string_view s, std::size_t& i) {
  const std::size_t start = i;
  while (i < s.size() && is_token_char(s[i])) ++i;
  return s.substr(start, i - start);
}

// GMime's own reading of a Content-Type value (GMime 3.2's parser takes
// the field's value to g_mime_content_type_parse the same way), so the check
// sees exactly the multiparts and boundaries GMime will build: its leniency
// with broken parameters, quotes and 8-bit bytes is not worth re-deriving
// (fuzz/structure_check_fuzz.cc kept finding differences). nullopt where
// GMime cannot read a type at all and falls back to its default.
std::optional<ContentType> parse_content_type(std::string_view s) {
  init_gmime();
  // GMime reads a header's value without its trailing white space, so an
  // unterminated boundary=" ... ends where the visible text does.
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  // GMime's parser reads a header's 8-bit bytes as text in its fallback
  // charsets (UTF-8, else Latin-1) before it parses the value: a boundary
  // "m\xd4" is "m\xc3\x94" to it.
  char* value = g_mime_utils_decode_8bit(nullptr, std::string(s).c_str(), s.size());
  GMimeContentType* parsed = value ? g_mime_content_type_parse(nullptr, value) : nullptr;
  g_free(value);
  if (parsed == nullptr) return std::nullopt;
  const char* type = g_mime_content_type_get_media_type(parsed);
  const char* subtype = g_mime_content_type_get_media_subtype(parsed);
  const char* boundary = g_mime_content_type_get_parameter(parsed, "boundary");
  ContentType out{ascii_lower(type ? type : ""), ascii_lower(subtype ? subtype : ""), std::nullopt};
  // An empty boundary="" is one too: GMime then splits at lines of "--".
  if (boundary && std::strlen(boundary) <= kMaxBoundary) out.boundary = boundary;
  g_object_unref(parsed);
  if (out.type.empty()) return std::nullopt;
  // On a value it cannot read, g_mime_content_type_parse answers
  // application/octet-stream, but GMime's message parser then uses its
  // default (message/rfc822 in a digest): only a value that names
  // application/octet-stream is one (a fuzz finding).
  if (out.type == "application" && out.subtype == "octet-stream") {
    std::size_t i = 0;
    skip_cfws(s, i);
    if (!equals_nocase(read_token(s, i), "application")) return std::nullopt;
    skip_cfws(s, i);
    if (i >= s.size() || s[i] != '/') return std::nullopt;
    ++i;
    skip_cfws(s, i);
    if (!equals_nocase(read_token(s, i), "octet-stream")) return std::nullopt;
  }
  return out;
}

// Header values arrive folded; CR and LF carry no meaning once unfolded.
std::string unfold(std::string_view s) {
  std::string out;
  out.reserve(std::min(s.size(), kMaxField));
  for (char c : s.substr(0, kMaxField))
    if (c != '\r' && c != '\n') out += c;
  return out;
}

bool is_rfc822(std::string_view subtype) {
  return subtype == "rfc822" || subtype == "rfc2822" || subtype == "global" || subtype == "news";
}

// GMime does not parse an encoded message/rfc822 part as a message. Which
// values name an encoding is GMime's call, so ask it: it takes the name
// followed by the end or white space ("base64 x"), and nothing else
// ("quoted-printable/1" is no encoding, and the message is parsed).
bool is_encoded(const std::optional<std::string>& transfer_encoding) {
  if (!transfer_encoding) return false;
  switch (g_mime_content_encoding_from_string(transfer_encoding->c_str())) {
    case GMIME_CONTENT_ENCODING_BASE64:
    case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
    case GMIME_CONTENT_ENCODING_UUENCODE:
      return true;
    default:
      return false;
  }
}

std::string describe_size(std::uint64_t n) {
  constexpr std::uint64_t kKiB = 1024;
  if (n > 0 && n % (kKiB * kKiB) == 0) return std::to_string(n / (kKiB * kKiB)) + " MiB";
  if (n > 0 && n % kKiB == 0) return std::to_string(n / kKiB) + " KiB";
  return std::to_string(n) + " bytes";
}

}  // namespace

StructureCheck::StructureCheck(std::string_view top_content_type, std::uint64_t limit,
                               int max_depth)
    : limit_(limit), max_depth_(static_cast<std::size_t>(std::clamp(max_depth, 1, kMaxDepthCap))) {
  head_.reserve(kHeadCap);
  const auto ct = parse_content_type(unfold(top_content_type));
  if (ct && ct->type == "multipart") enter_multipart(ct->subtype, ct->boundary);
}

void StructureCheck::feed(const unsigned char* data, std::size_t size) {
  while (size > 0 && !problem_ && mode_ != Mode::kIdle) {
    const auto* nl = static_cast<const unsigned char*>(std::memchr(data, '\n', size));
    const std::size_t n = nl ? static_cast<std::size_t>(nl - data) : size;
    take(data, n);
    if (!nl) return;
    ++line_len_;
    count_line_bytes(1);
    if (problem_) return;
    end_line();
    data += n + 1;
    size -= n + 1;
  }
}

void StructureCheck::finish() {
  if (line_len_ > 0 && !problem_ && mode_ != Mode::kIdle) end_line();
}

// Bytes of the current line, without its '\n'.
void StructureCheck::take(const unsigned char* p, std::size_t n) {
  if (n == 0) return;
  if (mode_ == Mode::kHeaders || mode_ == Mode::kMessageStart) collect_header(p, n);
  tail_.append(p, n);
  note_line_bytes(p, n);
  line_len_ += n;
  count_line_bytes(n);
}

void StructureCheck::count_line_bytes(std::uint64_t n) {
  if (maybe_boundary_) {
    pending_ += n;
    return;
  }
  count(pending_ + n);
  pending_ = 0;
}

void StructureCheck::note_line_bytes(const unsigned char* p, std::size_t n) {
  const std::size_t kept = std::min(n, kHeadCap - head_.size());
  head_.append(reinterpret_cast<const char*>(p), kept);
  if (!maybe_boundary_) return;
  if ((!head_.empty() && head_[0] != '-') || (head_.size() > 1 && head_[1] != '-')) {
    maybe_boundary_ = false;
    return;
  }
  // Once head_ is full only blanks may follow a delimiter, so the line is a
  // boundary only if head_ already reads as one.
  if (kept > 0 && head_.size() == kHeadCap && !match_boundary()) {
    maybe_boundary_ = false;
    return;
  }
  for (std::size_t i = kept; i < n && maybe_boundary_; ++i)
    maybe_boundary_ = is_lwsp(static_cast<char>(p[i]));
}

// A boundary line ends a header block too (GMime 3.2); the part it ended
// then has an empty body.
void StructureCheck::end_line() {
  if (tail_is_boundary()) {
    if (!problem_) problem_ = "a line ending in a boundary delimiter";
    reset_line();
    return;
  }
  const bool blank = head_.empty() || head_ == "\r";
  auto m = match_boundary();
  if (!m) count(pending_);
  pending_ = 0;
  if (m && (mode_ == Mode::kHeaders || mode_ == Mode::kMessageStart)) {
    // The boundary line ends the header block first, and GMime then reads
    // it again inside the part that block began: a multipart declared
    // there sees its own boundary in it (innermost first).
    end_header_block();
    m = match_boundary();
  }
  if (m) {
    on_boundary(*m);
  } else if (mode_ == Mode::kHeaders || mode_ == Mode::kMessageStart) {
    // kMessageStart: GMime first checks whether the embedded message is empty.
    if (blank) end_header_block();
    else mode_ = Mode::kHeaders;
  }
  reset_line();
}

void StructureCheck::reset_line() {
  head_.clear();
  line_len_ = 0;
  pending_ = 0;
  maybe_boundary_ = true;
  tail_.clear();
}

// Innermost level first, closing delimiter before plain, as GMime checks.
std::optional<StructureCheck::Match> StructureCheck::match_boundary() const {
  if (!maybe_boundary_ || head_.size() < 3) return std::nullopt;
  for (std::size_t level = frames_.size(); level-- > 0;) {
    const std::string& delimiter = frames_[level].delimiter;
    if (delimiter.empty()) continue;
    if (line_is(delimiter, true)) return Match{level, true};
    if (line_is(delimiter, false)) return Match{level, false};
  }
  return std::nullopt;
}

bool StructureCheck::line_is(std::string_view delimiter, bool closing) const {
  const std::size_t len = delimiter.size() + (closing ? 2 : 0);
  if (head_.size() < len) return false;
  const std::string_view line(head_);
  if (line.substr(0, delimiter.size()) != delimiter) return false;
  if (closing && line.substr(delimiter.size(), 2) != "--") return false;
  const std::string_view rest = line.substr(len);
  return std::all_of(rest.begin(), rest.end(), is_lwsp);
}

// GMime 3.2 may split a line whose end reads as a boundary line of any
// level it tracks (LineTail): the message is given up rather than followed.
bool StructureCheck::tail_is_boundary() const {
  return std::any_of(frames_.begin(), frames_.end(), [&](const Frame& f) {
    return !f.delimiter.empty() && tail_.ends_in(f.delimiter);
  });
}

void StructureCheck::LineTail::append(const unsigned char* p, std::size_t n) {
  std::size_t last = n;  // one past the last byte that is not white space
  while (last > 0 && is_lwsp(static_cast<char>(p[last - 1]))) --last;
  if (last > 0) {
    // The white space kept so far is inside the line now. A run longer than
    // any delimiter cannot be inside one, so what came before it cannot
    // belong to a delimiter that ends the line.
    if (many_blanks_) {
      text_.clear();
      cut_ = true;
    } else {
      text_ += blanks_;
    }
    blanks_.clear();
    many_blanks_ = false;
    // Only the last kHeadCap bytes can hold a delimiter and its "--".
    const std::size_t from = last > kHeadCap ? last - kHeadCap : 0;
    if (from > 0) {
      text_.clear();
      cut_ = true;
    }
    text_.append(reinterpret_cast<const char*>(p + from), last - from);
    if (text_.size() > 2 * kHeadCap) {
      text_.erase(0, text_.size() - kHeadCap);
      cut_ = true;
    }
  }
  keep_blanks(p + last, n - last);
}

void StructureCheck::LineTail::keep_blanks(const unsigned char* p, std::size_t n) {
  if (many_blanks_ || n == 0) return;
  if (blanks_.size() + n > kHeadCap) {
    many_blanks_ = true;
    blanks_.clear();
    return;
  }
  blanks_.append(reinterpret_cast<const char*>(p), n);
}

// Whether the line, from a byte after its first, reads as `delimiter` or
// `delimiter--` and then white space only. The white space a delimiter
// itself may end in is not required to follow (so the answer errs towards
// yes); a delimiter that starts the line is a boundary line proper.
bool StructureCheck::LineTail::ends_in(std::string_view delimiter) const {
  auto ends_after_first_byte = [&](std::string_view s) {
    if (s.empty() || text_.size() < s.size()) return false;
    if (std::string_view(text_).substr(text_.size() - s.size()) != s) return false;
    return cut_ || text_.size() > s.size();
  };
  const std::string closing = std::string(delimiter) + "--";
  while (!delimiter.empty() && is_lwsp(delimiter.back())) delimiter.remove_suffix(1);
  return ends_after_first_byte(closing) || ends_after_first_byte(delimiter);
}

void StructureCheck::LineTail::clear() {
  text_.clear();
  cut_ = false;
  blanks_.clear();
  many_blanks_ = false;
}

// A boundary of level m.level also closes every multipart nested in it.
void StructureCheck::on_boundary(Match m) {
  frames_.resize(m.level + 1);
  if (m.closing) {
    frames_.pop_back();
    start_block(Mode::kEpilogue, 0);
    return;
  }
  ++parts_;
  const bool digest = frames_.back().digest;
  start_block(Mode::kHeaders, line_len_);
  start_header_block(digest);
}

void StructureCheck::start_block(Mode mode, std::uint64_t bytes) {
  mode_ = mode;
  block_bytes_ = 0;
  count(bytes);
}

void StructureCheck::count(std::uint64_t n) {
  const char* what = nullptr;
  switch (mode_) {
    case Mode::kPreamble: what = "multipart preamble"; break;
    case Mode::kEpilogue: what = "multipart epilogue"; break;
    case Mode::kHeaders:
    case Mode::kMessageStart: what = "MIME part header block"; break;
    case Mode::kBody:
    case Mode::kIdle: return;
  }
  block_bytes_ += n;
  if (block_bytes_ > limit_ && !problem_)
    problem_ = std::string(what) + " over " + describe_size(limit_);
}

void StructureCheck::start_header_block(bool in_digest) {
  field_.clear();
  header_in_digest_ = in_digest;
  content_type_.reset();
  transfer_encoding_.reset();
}

// A line not starting with a blank starts a new field (GMime's folding rule).
void StructureCheck::collect_header(const unsigned char* p, std::size_t n) {
  if (line_len_ == 0 && p[0] != ' ' && p[0] != '\t') finish_field();
  const std::size_t kept = std::min(n, kMaxField - field_.size());
  field_.append(reinterpret_cast<const char*>(p), kept);
}

void StructureCheck::finish_field() {
  std::erase(field_, '\r');
  const std::size_t colon = field_.find(':');
  if (colon != std::string::npos) {
    std::string_view name = std::string_view(field_).substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
    const std::string value = field_.substr(colon + 1);
    // GMime 3.2 takes the last Content-Type but the first Content-Transfer-Encoding.
    if (equals_nocase(name, "Content-Type")) content_type_ = value;
    if (!transfer_encoding_ && equals_nocase(name, "Content-Transfer-Encoding"))
      transfer_encoding_ = value;
  }
  field_.clear();
}

void StructureCheck::end_header_block() {
  finish_field();
  const auto ct = content_type_ ? parse_content_type(*content_type_) : std::nullopt;
  if (ct && ct->type == "multipart") {
    enter_multipart(ct->subtype, ct->boundary);
    return;
  }
  // Without a usable Content-Type, a multipart/digest part is a message.
  const bool message = ct ? ct->type == "message" && is_rfc822(ct->subtype) : header_in_digest_;
  if (message && !is_encoded(transfer_encoding_)) {
    start_block(Mode::kMessageStart, 0);
    start_header_block(false);
    return;
  }
  start_block(Mode::kBody, 0);
}

// Past max_depth the message is given up: the scan would pass it
// unchanged for its depth anyway, and the blocks of a multipart the check
// does not track could be of any size, which GMime would hold in memory
// while it parses (a fuzz finding: an epilogue over the limit at depth 33).
void StructureCheck::enter_multipart(std::string_view subtype,
                                     const std::optional<std::string>& boundary) {
  if (frames_.size() >= max_depth_) {
    if (!problem_) problem_ = "MIME nesting deeper than " + std::to_string(max_depth_);
    mode_ = Mode::kIdle;
    return;
  }
  // To write a multipart without a boundary GMime makes one up and encodes
  // the part's Content-Type again, and GMime 3.2's parameter encoder can
  // exhaust memory on hostile parameters (fuzz/structure_check_fuzz.cc:
  // a 1 GiB allocation, then abort). Such mail passes unchanged, unwritten.
  if (!boundary) {
    if (!problem_) problem_ = "multipart without a usable boundary";
    mode_ = Mode::kIdle;
    return;
  }
  frames_.push_back(Frame{"--" + *boundary, subtype == "digest"});
  start_block(Mode::kPreamble, 0);
}

}  // namespace attachgate::milter
