// web/pages.h - the HTML pages of the download server.
//
// Renders templates/{landing,code_form,gone,not_found,problem,status}.html (mustache,
// mstch) and serves templates/style.css. Templates are checked when loaded
// against the names each page may use (util/template_check.h), so a typo or
// an unclosed section is an Error naming file and line, not a blank page.
// Every string in a page struct is untrusted: it is cleaned once (controls,
// bidi and invisible characters dropped, invalid UTF-8 shown as U+FFFD) and
// the templates can only write it HTML-escaped. Pages carry no script and no
// inline style, so they work under `default-src 'none'; style-src 'self'`.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "util/result.h"

namespace attachgate::web {

struct PageFile {
  std::string id;          // file public id: the value of the download button
  std::string name;        // display name, untrusted text (already cleaned), escaped by mstch
  std::string size;        // "31.2 MB"
  std::string type;        // a short label, e.g. "PDF document" or the MIME type
  int downloads_left = 0;  // for this link; 0 or less while available means no limit
  bool available = true;   // false: used up for this link (shows "Already downloaded", no button)
  bool gone = false;       // the stored copy is missing or purged: shows "No longer available"
};

struct LandingPage {
  std::string action;   // form action, e.g. "/d/TOKEN"; written escaped, so '/' appears as "&#x2F;"
  std::string sender;   // envelope sender; may be empty
  std::string expires;  // "2026-11-29 14:00 UTC"
  std::vector<PageFile> files;
  std::string total_size;  // "62.4 MB"
  bool code_required = false;
  std::string code;     // when code_required and unlocked: carried in a hidden input named "code"
  std::string message;  // notice to show (e.g. wrong code, tries left), role="alert"; may be empty
  bool offer_all = false;  // offer "Download all (.zip)": a submit button name="file" value="all"
};

// The sender's private status page (GET /s/TOKEN): what happened to the
// message, with revoke and extend buttons while the link is active. With
// links per recipient, one row per recipient says what happened through
// their own link.
struct StatusUse {  // one file through one recipient's link
  std::string file;   // the file's name
  std::string used;   // "1 of 1"
  std::string times;  // completed downloads: "2026-11-23 18:00:05 UTC, ..."; may be empty
};

struct StatusRecipient {
  std::string address, delivery;  // delivery: "delivered 2026-11-23 18:00 UTC", or "no news yet"
  // Per recipient only. Without a link of their own the recipient got the
  // attachment in the mail (an internal recipient), and only delivery shows.
  bool own_link = false;
  std::string opened;    // first open through their link, or "not yet"
  std::string state;     // their link's: "active", "used up", "expired", "revoked"
  std::string expires;   // "2026-11-29 14:00:00 UTC"
  bool active = false;   // offers "Revoke this recipient's link"
  bool can_resend = false;  // offers "Send a new link" (status_recipients.h, can_send_again)
  std::vector<StatusUse> uses;
};

struct StatusEvent {
  std::string when, what, detail;
};

struct StatusPage {
  std::string action;  // "/s/TOKEN"
  std::string csrf;    // hidden form field that proves the form came from this page
  std::string subject, sent, expires, state;  // state: "active", "revoked", ...
  bool active = false;  // offers revoke and extend (of every link)
  bool per_recipient = false;  // each recipient has a link of their own: rows per recipient
  bool several_links = false;  // more than one link: the page speaks of "all links"
  std::vector<StatusRecipient> recipients;
  std::vector<PageFile> files;  // downloads_left per file
  std::vector<StatusEvent> events;  // oldest first
};

struct GonePage {  // 410: expired / revoked / used up / locked
  std::string title, detail;
};

struct ProblemPage {  // 400, 429, 500, 503
  std::string title, detail;
};

// Immutable after load, so one renderer can serve every connection. mstch's
// global escape function (mstch::config::escape) must stay the default HTML
// escaper: the templates rely on it.
class PageRenderer {
 public:
  // Reads and checks every template and the stylesheet; an Error names
  // file:line (or the file, when it cannot be read).
  static Result<PageRenderer> load(const std::string& templates_dir);

  // The file list with a download button for each available file. The
  // hidden "code" input is written only when code_required and code is set.
  std::string landing(const LandingPage& page) const;
  // The access-code form: sender, file count, total size, expiry and the
  // message, but never a file name (names are behind the code).
  std::string code_form(const LandingPage& page) const;
  std::string gone(const GonePage& page) const;
  std::string not_found() const;
  std::string problem(const ProblemPage& page) const;
  std::string status(const StatusPage& page) const;
  // templates/style.css, served at /static/style.css.
  const std::string& stylesheet() const { return stylesheet_; }

 private:
  PageRenderer() = default;

  std::string landing_;
  std::string code_form_;
  std::string gone_;
  std::string not_found_;  // rendered once at load: it has no values
  std::string problem_;
  std::string status_;
  std::string stylesheet_;
};

}  // namespace attachgate::web
