// web/link_routes.cc - GET/HEAD and POST on /d/{token}: the landing page,
// the access-code form, and the claim.
//
// GET shows and records `viewed`; HEAD only shows; neither consumes. A POST
// carries the form: `code` when the link needs one, `file` (a file's public
// id, or "all") to claim. A won claim answers 303 to /t/{ticket}, so the
// bytes come from a GET the browser can resume. A code is counted in the
// catalog before the slow check and taken back only if it is right, so the
// pause and the lock hold however many guesses race; wrong codes are
// recorded as `denied`.
#include <algorithm>

#include "store/secrets.h"
#include "util/text.h"
#include "util/units.h"
#include "web/content_headers.h"
#include "web/form.h"
#include "web/handler_internal.h"

namespace attachgate::web {
namespace {

std::vector<int> downloads_of(const std::vector<store::LinkFile>& files) {
  std::vector<int> d;
  for (const auto& f : files) d.push_back(f.file.state == store::FileState::stored ? f.downloads : INT32_MAX);
  return d;
}

// Why a link that is not active is gone: a link used up only because a
// file's stored copy went missing says that, not "already downloaded".
std::string_view why_gone(store::LinkState state, const std::vector<store::LinkFile>& files,
                          int max_downloads) {
  if (state == store::LinkState::used_up)
    for (const auto& f : files)
      if (f.file.state == store::FileState::missing && f.downloads < max_downloads) return "missing";
  return to_string(state);
}

std::string type_label(std::string_view content_type) {
  std::string t(content_type.substr(0, content_type.find(';')));
  return t.empty() ? "file" : t;
}

std::string clock_text(std::int64_t unix_seconds) {
  return format_date(unix_seconds);
}

}  // namespace

Result<std::optional<Handler::Link>> Handler::find_link(std::string_view token) {
  if (!store::looks_like_token(token)) return std::optional<Link>{};
  auto record = store_.catalog.find_link_by_token_hash(store_.tokens.hash(token));
  if (!record) return record.error();
  if (!*record) return std::optional<Link>{};
  Link link;
  link.token = std::string(token);
  link.record = std::move(**record);
  auto message = store_.catalog.find_message(link.record.message_id);
  if (!message) return message.error();
  if (*message) link.message = std::move(**message);
  auto files = store_.catalog.link_files(link.record.id);
  if (!files) return files.error();
  link.files = std::move(*files);
  link.state = store::link_state(link.record, downloads_of(link.files), clock_());
  return std::optional<Link>{std::move(link)};
}

Response Handler::landing(const Request& request, std::string_view token) {
  auto found = find_link(token);
  if (!found) {
    log_warn("landing: " + found.error().message);
    return problem(503, "Temporarily unavailable", "Please try again in a few minutes.");
  }
  if (!*found) return not_found();
  const Link& link = **found;
  if (link.state != store::LinkState::active)
    return gone_page(why_gone(link.state, link.files, link.record.max_downloads));
  if (link.record.locked_until == store::kLockedForGood) return gone_page("locked");
  Response r = show_link(link, "", "", 200);
  if (request.method == "GET")
    record_when_sent(r, store::EventKind::viewed, request, link.record.message_id, via(link.record));
  return r;
}

Response Handler::show_link(const Link& link, const std::string& code, const std::string& message,
                            int status) {
  LandingPage p;
  p.action = "/d/" + link.token;
  p.sender = link.message.sender;
  p.expires = clock_text(link.record.expires_at);
  p.code_required = link.record.code_hash.has_value();
  p.code = code;
  p.message = message;
  std::uint64_t total = 0;
  int available = 0;
  for (const auto& f : link.files) {
    PageFile pf;
    pf.id = f.file.public_id;
    pf.name = f.file.filename;
    pf.size = format_size(f.file.size);
    pf.type = type_label(f.file.content_type);
    pf.downloads_left = std::max(0, link.record.max_downloads - f.downloads);
    pf.gone = f.file.state != store::FileState::stored;
    pf.available = pf.downloads_left > 0 && !pf.gone;
    available += pf.available;
    total += f.file.size;
    p.files.push_back(std::move(pf));
  }
  p.total_size = format_size(total);
  p.offer_all = available > 1;
  const bool locked = p.code_required && code.empty();
  return page(status, locked ? pages()->code_form(p) : pages()->landing(p));
}

Response Handler::post_link(const Request& request, std::string_view token) {
  if (!is_form_content_type(request.content_type))
    return problem(415, "Unsupported form", "Use the buttons on the download page.");
  auto form = parse_form(request.body);
  if (!form) return problem(400, "Bad request", form.error().message);
  auto found = find_link(token);
  if (!found) {
    log_warn("download: " + found.error().message);
    return problem(503, "Temporarily unavailable", "Please try again in a few minutes.");
  }
  if (!*found) return not_found();
  const Link& link = **found;
  if (link.state != store::LinkState::active)
    return gone_page(why_gone(link.state, link.files, link.record.max_downloads));
  if (link.record.locked_until == store::kLockedForGood) return gone_page("locked");

  const std::string* code = form->get("code");
  const std::string* file = form->get("file");
  std::string good_code;
  if (link.record.code_hash) {
    const std::int64_t now = clock_();
    if (link.record.locked_until > now) return code_paused(link.record.locked_until);
    if (code == nullptr || code->empty())
      return show_link(link, "", "Enter the access code the sender gave you.", 200);
    // Counted before the check: a guess that is not admitted is never checked.
    auto attempt = store_.catalog.begin_code_attempt(link.record.id, now, config_.code_limits);
    if (!attempt) {
      log_warn("access code: " + attempt.error().message);
      return problem(503, "Temporarily unavailable", "Please try again in a few minutes.");
    }
    if (!attempt->admitted) {
      if (attempt->locked_until == store::kLockedForGood) return gone_page("locked");
      return code_paused(attempt->locked_until);
    }
    if (!store::verify_access_code(*link.record.code_hash, *code)) {
      record(store::EventKind::denied, request, link.record.message_id, via(link.record),
             std::nullopt, "wrong access code (" + std::to_string(attempt->failed) + ")");
      if (attempt->locked_until == store::kLockedForGood) return gone_page("locked");
      if (attempt->locked_until > now) return code_paused(attempt->locked_until);
      const int left = config_.code_limits.per_pause - attempt->failed % config_.code_limits.per_pause;
      return show_link(link, "",
                       "That code is not right. " + std::to_string(left) +
                           (left == 1 ? " try" : " tries") + " left before a pause.",
                       403);
    }
    // Right: it was admitted, so it wins even if racing guesses have paused
    // the link since. Taking the count back may fail; the link then stays
    // one failure nearer its pause, which errs on the closed side.
    if (auto s = store_.catalog.refund_code_attempt(link.record.id, *attempt); !s)
      log_warn("access code: " + s.error().message);
    good_code = *code;
  }
  if (file == nullptr) return show_link(link, good_code, "", 200);
  return claim(request, link, *file, good_code);
}

Response Handler::code_paused(std::int64_t until) {
  return problem(429, "Too many wrong codes",
                 "This link is paused after several wrong access codes. Try again after " +
                     clock_text(until) + ".");
}

Response Handler::claim(const Request& request, const Link& link, const std::string& which,
                        const std::string& code) {
  store::NewDownload d;
  d.link_id = link.record.id;
  d.all = which == "all";
  for (const auto& f : link.files) {
    if (!d.all && f.file.public_id != which) continue;
    // Known to be gone: say so rather than spend a download on it.
    if (f.file.state == store::FileState::missing) return gone_page("missing");
    if (f.file.state == store::FileState::purged) return gone_page("expired");
    d.file_ids.push_back(f.file.id);
  }
  if (d.file_ids.empty()) return show_link(link, code, "That file is not part of this link.", 404);
  const std::string ticket = store::new_token();
  d.ticket_hash = store_.tokens.hash(ticket);
  d.now = clock_();
  d.resume_until = d.now + config_.resume_grace_seconds;
  d.remote_addr = clean_display_text(request.remote_addr, 64);
  d.user_agent = clean_display_text(request.user_agent, 256);
  auto won = store_.catalog.claim_download(d);
  if (!won) {
    log_warn("claim: " + won.error().message);
    return problem(503, "Temporarily unavailable", "Please try again in a few minutes.");
  }
  if (won->outcome != store::Claim::won) {
    // Lost the race or the link ended meanwhile: say which, as GET would.
    auto again = find_link(link.token);
    if (again && *again && (*again)->state != store::LinkState::active)
      return gone_page(why_gone((*again)->state, (*again)->files, (*again)->record.max_downloads));
    return gone_page("used up");
  }
  Response r;
  r.status = 303;
  r.headers = security_headers();
  r.headers.emplace_back("Location", "/t/" + ticket);
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  r.body = "Your download starts at /t/" + ticket + "\n";
  return r;
}

}  // namespace attachgate::web
