// web/pages.cc - see pages.h.
//
// Each page has its own table of names, so a template can only reach what
// its page is meant to show: code_form.html has no name for a file's name at
// all. load() checks the tags, refuses what the Content-Security-Policy would
// block anyway (script, style elements and attributes), and renders a sample
// of each page that must still show its form or title. Values reach mstch
// only through the *_view() functions, which clean every string once.
#include "web/pages.h"

#include <algorithm>
#include <exception>
#include <initializer_list>
#include <span>
#include <string_view>
#include <utility>

#include <mstch/mstch.hpp>

#include "util/template_check.h"
#include "util/text.h"

namespace attachgate::web {
namespace {

using Kind = TemplateNameKind;

// Invalid UTF-8 shows as the replacement character, as browsers show it.
constexpr std::string_view kUnreadable = "\uFFFD";

// Bounds for each cleaned value, in bytes: generous for the real thing, small
// enough that a hostile value cannot blow up a page.
constexpr std::size_t kShort = 128;    // size, type, expiry, id
constexpr std::size_t kName = 255;     // file name, as the catalog keeps it
constexpr std::size_t kSender = 254;   // longest SMTP address
constexpr std::size_t kText = 2000;    // message, detail
constexpr std::size_t kUrl = 2048;     // form action

constexpr TemplateName kLandingNames[] = {
    {"action", Kind::kValue},
    {"sender", Kind::kValue},
    {"has_sender", Kind::kFlag},
    {"expires", Kind::kValue},
    {"file_count", Kind::kValue},
    {"files_label", Kind::kValue},  // "2 files"
    {"total_size", Kind::kValue},
    {"message", Kind::kValue},
    {"has_message", Kind::kFlag},
    {"code", Kind::kValue},
    {"has_code", Kind::kFlag},
    {"offer_all", Kind::kFlag},
    {"any_available", Kind::kFlag},
    {"same_downloads", Kind::kFlag},   // every available file has the same count left
    {"downloads_each", Kind::kValue},  // that count: "2 more times"
    {"files", Kind::kList},
    {"id", Kind::kValue, "files"},
    {"name", Kind::kValue, "files"},
    {"size", Kind::kValue, "files"},
    {"type", Kind::kValue, "files"},
    {"downloads_left", Kind::kValue, "files"},   // "2"
    {"downloads_label", Kind::kValue, "files"},  // "2 downloads left"
    {"available", Kind::kFlag, "files"},
    {"gone", Kind::kFlag, "files"},  // not available because the stored copy is gone
};

// No file names, ids or sizes: those are behind the code.
constexpr TemplateName kCodeFormNames[] = {
    {"action", Kind::kValue},     {"sender", Kind::kValue},      {"has_sender", Kind::kFlag},
    {"expires", Kind::kValue},    {"file_count", Kind::kValue},  {"files_label", Kind::kValue},
    {"total_size", Kind::kValue}, {"message", Kind::kValue},     {"has_message", Kind::kFlag},
};

constexpr TemplateName kStatusNames[] = {
    {"action", Kind::kValue},
    {"csrf", Kind::kValue},
    {"subject", Kind::kValue},
    {"sent", Kind::kValue},
    {"expires", Kind::kValue},
    {"state", Kind::kValue},
    {"active", Kind::kFlag},
    {"per_recipient", Kind::kFlag},
    {"several_links", Kind::kFlag},
    {"recipients", Kind::kList},
    {"address", Kind::kValue, "recipients"},
    {"delivery", Kind::kValue, "recipients"},
    {"own_link", Kind::kFlag, "recipients"},
    {"opened", Kind::kValue, "recipients"},
    {"link_state", Kind::kValue, "recipients"},
    {"link_expires", Kind::kValue, "recipients"},
    {"link_active", Kind::kFlag, "recipients"},
    {"can_resend", Kind::kFlag, "recipients"},
    {"row_actions", Kind::kFlag, "recipients"},
    {"uses", Kind::kList, "recipients"},
    {"file", Kind::kValue, "uses"},
    {"used", Kind::kValue, "uses"},
    {"times", Kind::kValue, "uses"},
    {"has_times", Kind::kFlag, "uses"},
    {"files", Kind::kList},
    {"name", Kind::kValue, "files"},
    {"size", Kind::kValue, "files"},
    {"downloads_label", Kind::kValue, "files"},
    {"events", Kind::kList},
    {"when", Kind::kValue, "events"},
    {"what", Kind::kValue, "events"},
    {"detail", Kind::kValue, "events"},
    {"has_events", Kind::kFlag},
};

constexpr TemplateName kTitledNames[] = {
    {"title", Kind::kValue},
    {"detail", Kind::kValue},
};

std::string clean(std::string_view text, std::size_t max_bytes) {
  return clean_display_text(text, max_bytes, kUnreadable);
}

std::string count_of(std::size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

std::string downloads_label(const PageFile& f) {
  if (f.downloads_left <= 0) return "no download limit";
  return count_of(static_cast<std::size_t>(f.downloads_left), "download left", "downloads left");
}

std::string downloads_each(int left) {
  if (left <= 0) return "as often as needed";
  return count_of(static_cast<std::size_t>(left), "more time", "more times");
}

// The facts both the landing page and the code form show.
mstch::map summary_view(const LandingPage& p) {
  std::string sender = clean(p.sender, kSender);
  std::string message = clean(p.message, kText);
  return mstch::map{
      {"action", clean(p.action, kUrl)},
      {"has_sender", !sender.empty()},
      {"sender", sender},
      {"expires", clean(p.expires, kShort)},
      {"file_count", std::to_string(p.files.size())},
      {"files_label", count_of(p.files.size(), "file", "files")},
      {"total_size", clean(p.total_size, kShort)},
      {"has_message", !message.empty()},
      {"message", message},
  };
}

mstch::map landing_view(const LandingPage& p) {
  mstch::map view = summary_view(p);
  mstch::array files;
  bool any_available = false;
  bool same = true;
  int left = 0;
  for (const PageFile& f : p.files) {
    std::string name = clean(f.name, kName);
    if (name.empty()) name = "attachment";
    files.emplace_back(mstch::map{
        {"id", clean(f.id, kShort)},
        {"name", name},
        {"size", clean(f.size, kShort)},
        {"type", clean(f.type, kShort)},
        {"downloads_left", std::to_string(std::max(f.downloads_left, 0))},
        {"downloads_label", downloads_label(f)},
        {"available", f.available},
        {"gone", !f.available && f.gone},
    });
    if (!f.available) continue;
    int this_left = std::max(f.downloads_left, 0);
    if (any_available && this_left != left) same = false;
    left = this_left;
    any_available = true;
  }
  std::string code = p.code_required ? clean(p.code, kShort) : std::string();
  view.emplace("files", std::move(files));
  view.emplace("any_available", any_available);
  view.emplace("same_downloads", any_available && same);
  view.emplace("downloads_each", downloads_each(left));
  view.emplace("has_code", !code.empty());
  view.emplace("code", code);
  view.emplace("offer_all", p.offer_all);
  return view;
}

mstch::map titled_view(const std::string& title, const std::string& detail) {
  return mstch::map{{"title", clean(title, kShort)}, {"detail", clean(detail, kText)}};
}

mstch::map status_view(const StatusPage& p) {
  mstch::array recipients, files, events;
  for (const auto& r : p.recipients) {
    mstch::array uses;
    for (const auto& u : r.uses) {
      std::string times = clean(u.times, kText);
      uses.emplace_back(mstch::map{{"file", clean(u.file, kName)}, {"used", clean(u.used, kShort)},
                                   {"has_times", !times.empty()}, {"times", times}});
    }
    // Every key is set in each row: mstch would otherwise look a missing
    // one up in the page around it (the page's own "active", say).
    recipients.emplace_back(mstch::map{{"address", clean(r.address, kSender)},
                                       {"delivery", clean(r.delivery, kText)},
                                       {"own_link", r.own_link},
                                       {"opened", clean(r.opened, kShort)},
                                       {"link_state", clean(r.state, kShort)},
                                       {"link_expires", clean(r.expires, kShort)},
                                       {"link_active", r.own_link && r.active},
                                       {"can_resend", r.own_link && r.can_resend},
                                       {"row_actions", r.own_link && (r.active || r.can_resend)},
                                       {"uses", std::move(uses)}});
  }
  for (const auto& f : p.files)
    files.emplace_back(mstch::map{{"name", clean(f.name, kName)}, {"size", clean(f.size, kShort)},
                                  {"downloads_label", downloads_label(f)}});
  for (const auto& e : p.events)
    events.emplace_back(mstch::map{{"when", clean(e.when, kShort)}, {"what", clean(e.what, kShort)},
                                   {"detail", clean(e.detail, kText)}});
  const bool has_events = !events.empty();
  return mstch::map{
      {"action", clean(p.action, kUrl)},     {"csrf", clean(p.csrf, kShort)},
      {"subject", clean(p.subject, kText)},  {"sent", clean(p.sent, kShort)},
      {"expires", clean(p.expires, kShort)}, {"state", clean(p.state, kShort)},
      {"active", p.active},                  {"recipients", std::move(recipients)},
      {"per_recipient", p.per_recipient},   {"several_links", p.several_links},
      {"files", std::move(files)},           {"events", std::move(events)},
      {"has_events", has_events},
  };
}

StatusPage sample_status() {
  StatusPage p;
  p.action = "/s/SAMPLEstatus0123456789";
  p.csrf = "SAMPLEcsrf";
  p.subject = "SAMPLE subject";
  p.active = true;
  StatusRecipient bob;
  bob.address = "bob@example.net";
  bob.delivery = "delivered 2026-11-23 18:00 UTC";
  p.recipients = {bob};
  p.files = {{"", "report.pdf", "2.5 MB", "", 1, true}};
  p.events = {{"2026-11-23 18:05 UTC", "SAMPLEevent", "complete"}};
  return p;
}

// The same message with a link per recipient: one row with a link of its
// own, one without.
StatusPage sample_status_per_recipient() {
  StatusPage p = sample_status();
  p.per_recipient = true;
  p.several_links = true;
  StatusRecipient& bob = p.recipients[0];
  bob.own_link = true;
  bob.opened = "not yet";
  bob.state = "active";
  bob.expires = "2026-11-29 14:00:00 UTC";
  bob.active = true;
  bob.uses = {{"report.pdf", "SAMPLEused", "2026-11-23 18:05:00 UTC"}};
  StatusRecipient dave;
  dave.address = "SAMPLEinternal@example.org";
  dave.delivery = "no delivery news yet";
  p.recipients.push_back(dave);
  return p;
}

std::size_t line_of(std::string_view text, std::size_t at) {
  return static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n')) + 1;
}

// The page's CSP (style-src 'self', no script-src) would silently drop
// these; refusing them at load tells the admin why the page looks wrong.
Status check_csp(const std::string& path, std::string_view tpl) {
  std::string lower = ascii_lower(tpl);
  struct Blocked {
    std::string_view what;
    std::string_view why;
  };
  static constexpr Blocked kBlocked[] = {
      {"<script", "scripts are blocked by the page's Content-Security-Policy"},
      {"javascript:", "scripts are blocked by the page's Content-Security-Policy"},
      {"<style", "style elements are blocked by the Content-Security-Policy; put styles in style.css"},
  };
  for (const Blocked& b : kBlocked)
    if (std::size_t at = lower.find(b.what); at != std::string::npos)
      return make_error(path + ":" + std::to_string(line_of(tpl, at)) + ": " + std::string(b.why));
  for (std::size_t at = lower.find("style="); at != std::string::npos; at = lower.find("style=", at + 1)) {
    char before = at == 0 ? ' ' : lower[at - 1];
    if (before == ' ' || before == '\t' || before == '\n' || before == '\r')
      return make_error(path + ":" + std::to_string(line_of(tpl, at)) +
                        ": style attributes are blocked by the Content-Security-Policy; put styles in style.css");
  }
  return {};
}

std::string escaped(const std::string& value) { return mstch::render("{{v}}", mstch::map{{"v", value}}); }

// The check no tag scan can do: a sample page, filled in, still shows what
// the page is for. Each `must_show` value is looked for HTML-escaped.
Status check_sample(const std::string& path, const std::string& tpl, const mstch::map& view,
                    std::initializer_list<std::pair<std::string_view, std::string>> must_show) {
  std::string out;
  try {
    out = mstch::render(tpl, view);
    for (const auto& [what, value] : must_show)
      if (out.find(escaped(value)) == std::string::npos)
        return make_error(path + ": a sample page rendered without " + std::string(what));
  } catch (const std::exception& e) {
    return make_error(path + ": rendering a sample page failed: " + e.what());
  }
  return {};
}

LandingPage sample_landing() {
  LandingPage p;
  p.action = "/d/SAMPLEtoken0123456789";
  p.sender = "sender@example.org";
  p.expires = "2026-11-29 14:00 UTC";
  p.files = {{"SAMPLEfile1", "sample report.pdf", "31.2 MB", "PDF document", 2, true},
             {"SAMPLEfile2", "notes.txt", "1.2 KB", "text/plain", 0, false}};
  p.total_size = "31.2 MB";
  p.code_required = true;
  p.code = "SAMPLEcode";
  p.message = "SAMPLE message";
  p.offer_all = true;
  return p;
}

Result<std::string> load_one(const std::string& dir, const char* file, std::span<const TemplateName> names) {
  std::string path = dir + "/" + file;
  Result<std::string> tpl = read_template(path);
  if (!tpl.ok()) return tpl;
  if (Status s = check_template(path, *tpl, names, TemplateMedium::kHtml); !s.ok()) return s.error();
  if (Status s = check_csp(path, *tpl); !s.ok()) return s.error();
  return tpl;
}

}  // namespace

Result<PageRenderer> PageRenderer::load(const std::string& templates_dir) {
  PageRenderer r;
  const LandingPage sample = sample_landing();
  const std::string path = templates_dir + "/";

  Result<std::string> landing = load_one(templates_dir, "landing.html", kLandingNames);
  if (!landing.ok()) return landing.error();
  if (Status s = check_sample(path + "landing.html", *landing, landing_view(sample),
                              {{"the form action (action)", sample.action},
                               {"the download button of an available file (id)", sample.files[0].id},
                               {"the file name (name)", sample.files[0].name},
                               {"the carried access code (code)", sample.code},
                               {"the message (message)", sample.message}});
      !s.ok())
    return s.error();
  r.landing_ = std::move(landing).value();

  Result<std::string> code_form = load_one(templates_dir, "code_form.html", kCodeFormNames);
  if (!code_form.ok()) return code_form.error();
  if (Status s = check_sample(path + "code_form.html", *code_form, summary_view(sample),
                              {{"the form action (action)", sample.action}, {"the message (message)", sample.message}});
      !s.ok())
    return s.error();
  r.code_form_ = std::move(code_form).value();

  const std::string title = "SAMPLE title";
  for (auto [file, slot] : {std::pair{"gone.html", &r.gone_}, std::pair{"problem.html", &r.problem_}}) {
    Result<std::string> tpl = load_one(templates_dir, file, kTitledNames);
    if (!tpl.ok()) return tpl.error();
    if (Status s = check_sample(path + file, *tpl, titled_view(title, "SAMPLE detail"), {{"the title (title)", title}});
        !s.ok())
      return s.error();
    *slot = std::move(tpl).value();
  }

  const StatusPage status_sample = sample_status();
  Result<std::string> status = load_one(templates_dir, "status.html", kStatusNames);
  if (!status.ok()) return status.error();
  if (Status s = check_sample(path + "status.html", *status, status_view(status_sample),
                              {{"the form action (action)", status_sample.action},
                               {"the form check (csrf)", status_sample.csrf},
                               {"the events (what)", status_sample.events[0].what}});
      !s.ok())
    return s.error();
  const StatusPage per_recipient = sample_status_per_recipient();
  if (Status s = check_sample(path + "status.html", *status, status_view(per_recipient),
                              {{"a recipient's row (address)", per_recipient.recipients[1].address},
                               {"a recipient's downloads (used)", per_recipient.recipients[0].uses[0].used}});
      !s.ok())
    return s.error();
  r.status_ = std::move(status).value();

  Result<std::string> not_found = load_one(templates_dir, "not_found.html", {});
  if (!not_found.ok()) return not_found.error();
  try {
    r.not_found_ = mstch::render(*not_found, mstch::map{});
  } catch (const std::exception& e) {
    return make_error(path + "not_found.html: rendering failed: " + e.what());
  }

  Result<std::string> css = read_template(path + "style.css");
  if (!css.ok()) return css.error();
  r.stylesheet_ = std::move(css).value();
  return r;
}

std::string PageRenderer::landing(const LandingPage& page) const { return mstch::render(landing_, landing_view(page)); }

std::string PageRenderer::code_form(const LandingPage& page) const {
  return mstch::render(code_form_, summary_view(page));
}

std::string PageRenderer::gone(const GonePage& page) const {
  return mstch::render(gone_, titled_view(page.title, page.detail));
}

std::string PageRenderer::not_found() const { return not_found_; }

std::string PageRenderer::status(const StatusPage& page) const {
  return mstch::render(status_, status_view(page));
}

std::string PageRenderer::problem(const ProblemPage& page) const {
  return mstch::render(problem_, titled_view(page.title, page.detail));
}

}  // namespace attachgate::web
