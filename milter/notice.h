// milter/notice.h - the block that replaces offloaded attachments in a mail.
//
// Renders templates/notice.txt and templates/notice.html (mustache, mstch)
// from a Notice. Templates are checked when loaded: a syntax error, an unknown
// name, a partial, raw output of a value in HTML, or HTML escaping in text is
// an Error naming file and line, so a bad template is refused on reload rather
// than found on the first mail. Every value (file names, sender) is treated as
// untrusted: controls and invisible characters are removed and the HTML
// template can only emit values escaped.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "util/result.h"

namespace attachgate::milter {

struct NoticeFile {
  std::string name;  // sanitized (sanitize_filename); cleaned again here
  std::uint64_t size = 0;
  std::string content_type;
};

struct Notice {
  std::vector<NoticeFile> files;
  std::string download_url;     // {public_base_url}/d/{token}
  std::string pixel_url;        // {public_base_url}/o/{pixel-id}.gif, or "" when tracking is off
  std::int64_t expires_at = 0;  // unix seconds, shown as a UTC date and time
  int downloads_allowed = 1;    // per recipient, per file; 0 or less means no limit
  bool code_required = false;
  std::string sender;  // envelope sender, untrusted; may be empty (null sender)
};

// Immutable after load, so one renderer can serve every milter thread.
// mstch's global escape function (mstch::config::escape) must stay the
// default HTML escaper: the HTML template relies on it.
class NoticeRenderer {
 public:
  static Result<NoticeRenderer> load(const std::string& templates_dir);

  // Plain text, "\n" line ends (the milter converts to CRLF), lines wrapped
  // at spaces to 72 characters where a word allows it, ending in "\n".
  std::string text(const Notice& notice) const;
  // An HTML fragment (no <html>/<body>) for insertion before </body>.
  std::string html(const Notice& notice) const;

 private:
  NoticeRenderer(std::string text_template, std::string html_template)
      : text_template_(std::move(text_template)), html_template_(std::move(html_template)) {}

  std::string text_template_;
  std::string html_template_;
};

}  // namespace attachgate::milter
