// milter/notice.cc - see notice.h.
//
// mstch renders whatever it is given and reports nothing: an unclosed section
// or a misspelt name just renders as empty text. So load() checks each
// template against kNames (util/template_check.h) before trusting it, and
// then renders a sample notice that must show the link. Values reach mstch only
// through view(), which cleans every string once.
#include "milter/notice.h"

#include <ctime>
#include <exception>
#include <string_view>

#include <mstch/mstch.hpp>

#include "milter/filename.h"
#include "util/template_check.h"
#include "util/text.h"
#include "util/units.h"

namespace attachgate::milter {
namespace {

constexpr std::size_t kTextWidth = 72;  // a 72-character line stays one line in quoted-printable

using Medium = TemplateMedium;
using Kind = TemplateNameKind;

// The names a template may use; the fields of a file exist only inside
// {{#files}}.
constexpr TemplateName kNames[] = {
    {"files", Kind::kList},
    {"name", Kind::kValue, "files"},
    {"size", Kind::kValue, "files"},
    {"content_type", Kind::kValue, "files"},
    {"type_label", Kind::kValue, "files"},
    {"file_count", Kind::kValue},
    {"files_label", Kind::kValue},
    {"total_size", Kind::kValue},
    {"download_url", Kind::kValue},
    {"pixel_url", Kind::kValue},
    {"has_pixel", Kind::kFlag},
    {"expires_date", Kind::kValue},
    {"expires_time", Kind::kValue},
    {"expires_iso", Kind::kValue},
    {"downloads", Kind::kValue},
    {"code_required", Kind::kFlag},
    {"sender", Kind::kValue},
    {"has_sender", Kind::kFlag},
};

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// "29 Nov 2026" and "14:03 UTC": day-month-year reads the same everywhere,
// and the month names are spelt here because strftime's follow the locale.
void format_expiry(std::int64_t unix_seconds, std::string& date, std::string& time) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr || tm.tm_mon < 0 || tm.tm_mon > 11) {
    date = "(unknown date)";
    time = "UTC";
    return;
  }
  char buf[48];
  std::snprintf(buf, sizeof buf, "%d %s %d", tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900);
  date = buf;
  std::snprintf(buf, sizeof buf, "%02d:%02d UTC", tm.tm_hour, tm.tm_min);
  time = buf;
}

// "PDF" for the little file icon: the extension if it is short and plain.
std::string type_label(std::string_view name) {
  std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return "FILE";
  std::string_view ext = name.substr(dot + 1);
  if (ext.empty() || ext.size() > 4) return "FILE";
  std::string out;
  for (char c : ext) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum) return "FILE";
    out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return out;
}

mstch::map view(const Notice& n) {
  mstch::array files;
  std::uint64_t total = 0;
  for (const NoticeFile& f : n.files) {
    std::string name = clean_display_text(f.name, 255);
    if (name.empty()) name = "attachment";
    files.emplace_back(mstch::map{
        {"name", name},
        {"size", format_size(f.size)},
        {"content_type", clean_display_text(f.content_type, 127)},
        {"type_label", type_label(name)},
    });
    total += f.size;
  }
  std::string date, time;
  format_expiry(n.expires_at, date, time);
  std::string downloads = n.downloads_allowed > 0
                              ? plural(static_cast<std::uint64_t>(n.downloads_allowed), "download", "downloads")
                              : "unlimited downloads";
  std::string sender = clean_display_text(n.sender, 254);
  std::string pixel = clean_display_text(n.pixel_url, 2048);
  return mstch::map{
      {"files", std::move(files)},
      {"file_count", std::to_string(n.files.size())},
      {"files_label", plural(n.files.size(), "file", "files")},
      {"total_size", format_size(total)},
      {"download_url", clean_display_text(n.download_url, 2048)},
      {"has_pixel", !pixel.empty()},
      {"pixel_url", pixel},
      {"expires_date", date},
      {"expires_time", time},
      {"expires_iso", format_date(n.expires_at)},
      {"downloads", downloads},
      {"code_required", n.code_required},
      {"has_sender", !sender.empty()},
      {"sender", sender},
  };
}

std::size_t display_width(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// Re-wraps one line at spaces. A word longer than the width (a URL) gets a
// line of its own rather than being broken. Continuation lines keep the
// line's indent, plus two for a "* " bullet.
void wrap_line(std::string_view line, std::string& out) {
  while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
  if (display_width(line) <= kTextWidth) {
    out.append(line);
    out += '\n';
    return;
  }
  std::size_t indent = line.find_first_not_of(' ');
  std::string lead(line.substr(0, indent));
  std::string hang = lead;
  if (line.compare(indent, 2, "* ") == 0 || line.compare(indent, 2, "- ") == 0) hang += "  ";
  std::string current = lead;
  bool has_word = false;
  std::size_t pos = indent;
  while (pos < line.size()) {
    std::size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    std::string_view word = line.substr(pos, end - pos);
    pos = end + 1;
    if (word.empty()) continue;
    if (has_word && display_width(current) + 1 + display_width(word) > kTextWidth) {
      out += current;
      out += '\n';
      current = hang;
      has_word = false;
    }
    if (has_word) current += ' ';
    current.append(word);
    has_word = true;
  }
  out += current;
  out += '\n';
}

std::string wrap_text(std::string_view text) {
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    wrap_line(line, out);
    pos = end + 1;
  }
  if (out.empty() || out.back() != '\n') out += '\n';
  return out;
}

Notice sample_notice() {
  Notice n;
  n.files = {{"sample report.pdf", 31'200'000, "application/pdf"}, {"notes.txt", 1200, "text/plain"}};
  n.download_url = "https://files.example.org/d/SAMPLEtoken0123456789";
  n.pixel_url = "https://files.example.org/o/SAMPLEpixel.gif";
  n.expires_at = 1'795'900'000;
  n.downloads_allowed = 3;
  n.code_required = true;
  n.sender = "sender@example.org";
  return n;
}

// The check that no tag scan can do: the template, filled in, shows the link.
Status check_sample(const std::string& path, const std::string& tpl, Medium medium) {
  Notice n = sample_notice();
  std::string out, url;
  try {
    out = mstch::render(tpl, view(n));
    // Escaped the way the template's own {{download_url}} is.
    url = medium == Medium::kHtml ? mstch::render("{{u}}", mstch::map{{"u", n.download_url}}) : n.download_url;
  } catch (const std::exception& e) {
    return make_error(path + ": rendering a sample notice failed: " + e.what());
  }
  if (out.find(url) == std::string::npos)
    return make_error(path + ": a sample notice rendered without the download link (download_url)");
  return {};
}

Result<std::string> load_one(const std::string& dir, const char* file, Medium medium) {
  std::string path = dir + "/" + file;
  Result<std::string> tpl = read_template(path);
  if (!tpl.ok()) return tpl;
  if (Status s = check_template(path, *tpl, kNames, medium); !s.ok()) return s.error();
  if (Status s = check_sample(path, *tpl, medium); !s.ok()) return s.error();
  return tpl;
}

}  // namespace

Result<NoticeRenderer> NoticeRenderer::load(const std::string& templates_dir) {
  Result<std::string> text = load_one(templates_dir, "notice.txt", Medium::kText);
  if (!text.ok()) return text.error();
  Result<std::string> html = load_one(templates_dir, "notice.html", Medium::kHtml);
  if (!html.ok()) return html.error();
  return NoticeRenderer(std::move(text).value(), std::move(html).value());
}

std::string NoticeRenderer::text(const Notice& notice) const {
  return wrap_text(mstch::render(text_template_, view(notice)));
}

std::string NoticeRenderer::html(const Notice& notice) const {
  return mstch::render(html_template_, view(notice));
}

}  // namespace attachgate::milter
