// milter/structure_check.h - spot MIME shapes GMime would hold in memory.
//
// GMime keeps part bodies on disk (persistent stream) but reads multipart
// preambles, epilogues and each part's header block into memory. The body is
// untrusted: StructureCheck follows its MIME structure as it streams in, in
// memory bounded by the boundary stack (max_depth x ~200 bytes) plus one
// Content-Type value (at most 16 KiB) and the ends of one line (under 1 KiB),
// and reports the first such block that is larger than the limit, so the
// session can pass the message unchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attachgate::milter {

// Watches a message's MIME structure as it streams in, in bounded memory,
// and reports the first block GMime would hold in memory that is larger
// than the limit: a multipart preamble, epilogue, or a part's header block.
//
// Follows GMime 3's rules: a boundary line of an enclosing multipart also
// closes the inner ones; a part's header block ends at an empty line or a
// boundary line (other lines, fields or not, belong to it), and its last
// Content-Type counts, read by GMime's own g_mime_content_type_parse (so
// its leniency, and RFC 2231 parameters, are the same); message/rfc822
// parts that are not base64/quoted-printable/uuencoded are parsed as
// messages (their header block counts like a part's). Not followed, so
// counted conservatively: boundaries over 200 bytes (the multipart is then
// all preamble). Multiparts nested deeper than max_depth are a problem of
// their own (the scan would pass such mail unchanged for its depth, and
// their blocks go untracked). A top level that is not multipart is not
// checked. Nor is GMime 3.2 followed where it reads the end of a line as a
// boundary line of its own because its 4 KiB read buffer happens to start
// there (see LineTail): a line that ends in a boundary delimiter is a
// problem of its own, wherever it falls.
class StructureCheck {
 public:
  // top_content_type: the message's Content-Type header value (unfolded or
  // folded, untrusted); limit: max bytes for any preamble, epilogue or part
  // header block; max_depth: how many nested multiparts to track (1..1024).
  StructureCheck(std::string_view top_content_type, std::uint64_t limit, int max_depth);

  // Feed the body (after the header block) in arbitrary chunks (CRLF or LF
  // line ends; lines may span chunks). Does nothing once a problem is found.
  void feed(const unsigned char* data, std::size_t size);
  // Call at end of body.
  void finish();

  // The first block found over the limit, e.g. "multipart preamble over
  // 256 KiB", "multipart epilogue over ...", "MIME part header block over
  // ...". Set as soon as it is seen, so callers may stop feeding early.
  std::optional<std::string> problem() const { return problem_; }

  // Boundary delimiters (non-final) seen so far: how many parts GMime will
  // build, for callers that also want to bound the part count.
  std::uint64_t part_count() const { return parts_; }

 private:
  enum class Mode {
    kIdle,          // nothing to track (top level is not multipart)
    kPreamble,      // counted: multipart body before its first boundary
    kHeaders,       // counted: a part's (or inner message's) header block
    kMessageStart,  // first line of a message/rfc822 part: boundary or header
    kBody,          // a leaf part's content: not counted
    kEpilogue,      // counted: after a closing boundary
  };
  struct Frame {
    std::string delimiter;  // "--" + boundary; empty when there is none
    bool digest = false;    // multipart/digest: parts default to message/rfc822
  };
  struct Match {
    std::size_t level;
    bool closing;
  };

  // The end of the current line, as GMime 3.2 may see it: when its read
  // buffer ends inside a long body line or inside a header value, it takes
  // the rest of the line for a line of its own, and if that reads as a
  // boundary line, it splits the part there (a fuzz finding). Where its
  // buffer ends depends on everything before, so the check does not predict
  // it, but spots every line that could be split so: one that, after its
  // first byte, reads as a delimiter (or a closing one) and white space.
  // Keeps the line's last bytes up to its last one that is not white space
  // (a few hundred), and of the white space after them no more than a
  // delimiter and its "--" can be long.
  class LineTail {
   public:
    void append(const unsigned char* p, std::size_t n);
    bool ends_in(std::string_view delimiter) const;
    void clear();

   private:
    void keep_blanks(const unsigned char* p, std::size_t n);
    std::string text_;           // ends in a byte that is not white space
    bool cut_ = false;           // bytes of the line before text_ were dropped
    std::string blanks_;         // white space after text_, while it is short
    bool many_blanks_ = false;   // more white space than a delimiter is long
  };

  void take(const unsigned char* p, std::size_t n);
  void note_line_bytes(const unsigned char* p, std::size_t n);
  void count_line_bytes(std::uint64_t n);
  void end_line();
  void reset_line();
  std::optional<Match> match_boundary() const;
  bool line_is(std::string_view delimiter, bool closing) const;
  bool tail_is_boundary() const;
  void on_boundary(Match m);
  void start_block(Mode mode, std::uint64_t bytes);
  void count(std::uint64_t n);

  void start_header_block(bool in_digest);
  void collect_header(const unsigned char* p, std::size_t n);
  void finish_field();
  void end_header_block();
  void enter_multipart(std::string_view subtype, const std::optional<std::string>& boundary);

  std::uint64_t limit_;
  std::size_t max_depth_;
  std::vector<Frame> frames_;
  Mode mode_ = Mode::kIdle;
  std::uint64_t block_bytes_ = 0;
  std::uint64_t parts_ = 0;
  std::optional<std::string> problem_;

  // The current line: its first bytes (enough to hold any delimiter and its
  // "--" suffix), its length, and whether it can still be a boundary line.
  // Until that is settled its bytes are pending: a boundary line belongs to
  // the part header block it opens, not to the preamble or body it ends.
  std::string head_;
  std::uint64_t line_len_ = 0;
  std::uint64_t pending_ = 0;
  bool maybe_boundary_ = true;
  LineTail tail_;

  // The header block being read: the current field (at most 16 KiB of it),
  // and the last Content-Type and first Content-Transfer-Encoding values.
  std::string field_;
  bool header_in_digest_ = false;
  std::optional<std::string> content_type_;
  std::optional<std::string> transfer_encoding_;
};

}  // namespace attachgate::milter
