// notify/sender_mail.cc - see sender_mail.h.
#include "notify/sender_mail.h"

#include <fstream>
#include <sstream>

#include <mstch/mstch.hpp>

#include "util/template_check.h"
#include "util/text.h"
#include "util/units.h"

namespace attachgate::notify {
namespace {

using Kind = TemplateNameKind;

constexpr TemplateName kReceiptNames[] = {
    {"subject", Kind::kValue},       {"recipients", Kind::kValue},
    {"files", Kind::kList},          {"name", Kind::kValue, "files"},
    {"size", Kind::kValue, "files"}, {"expires", Kind::kValue},
    {"downloads", Kind::kValue},     {"has_code", Kind::kFlag},
    {"access_code", Kind::kValue},   {"has_status_url", Kind::kFlag},
    {"status_url", Kind::kValue},    {"per_recipient", Kind::kFlag},
    {"linked", Kind::kValue},        {"has_kept", Kind::kFlag},
    {"kept", Kind::kValue},          {"has_codes", Kind::kFlag},
    {"codes", Kind::kList},          {"recipient", Kind::kValue, "codes"},
    {"code", Kind::kValue, "codes"},
};

constexpr TemplateName kNoticeNames[] = {
    {"what", Kind::kValue},          {"subject", Kind::kValue},
    {"files", Kind::kList},          {"name", Kind::kValue, "files"},
    {"size", Kind::kValue, "files"}, {"at", Kind::kValue},
    {"remote_addr", Kind::kValue},   {"user_agent", Kind::kValue},
    {"has_recipient", Kind::kFlag},  {"recipient", Kind::kValue},
};

constexpr TemplateName kFreshLinkNames[] = {
    {"sender", Kind::kValue},        {"subject", Kind::kValue},
    {"files", Kind::kList},          {"name", Kind::kValue, "files"},
    {"size", Kind::kValue, "files"}, {"url", Kind::kValue},
    {"expires", Kind::kValue},       {"downloads", Kind::kValue},
    {"has_code", Kind::kFlag},
};

constexpr std::size_t kMaxTemplate = 64 * 1024;

Result<std::string> read_template(const std::string& path,
                                  std::span<const TemplateName> names) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot open (is templates_dir right?)");
  std::string text(kMaxTemplate + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxTemplate) return make_error(path + ": larger than 64 KiB");
  if (auto s = check_template(path, text, names, TemplateMedium::kText); !s) return s.error();
  return text;
}

mstch::array file_list(const std::vector<MailFile>& files) {
  mstch::array out;
  for (const auto& f : files)
    out.emplace_back(mstch::map{{"name", clean_display_text(f.name, 300)},
                                {"size", format_size(f.size)}});
  return out;
}

std::string subject_of(const std::string& subject) {
  std::string s = clean_display_text(subject, 200);
  return s.empty() ? "(no subject)" : s;
}

std::string times(int n) { return n == 1 ? std::string("once") : std::to_string(n) + " times"; }

}  // namespace

Result<SenderMail> SenderMail::load(const std::string& templates_dir) {
  auto receipt = read_template(templates_dir + "/receipt.txt", kReceiptNames);
  if (!receipt) return receipt.error();
  auto notice = read_template(templates_dir + "/download_notice.txt", kNoticeNames);
  if (!notice) return notice.error();
  auto fresh = read_template(templates_dir + "/fresh_link.txt", kFreshLinkNames);
  if (!fresh) return fresh.error();
  return SenderMail(std::move(*receipt), std::move(*notice), std::move(*fresh));
}

static std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::string SenderMail::receipt(const ReceiptFacts& f) const {
  const std::string recipients = joined(f.recipients);
  const int n = f.downloads_per_recipient;
  mstch::array codes;
  for (const auto& [recipient, code] : f.codes)
    codes.emplace_back(mstch::map{{"recipient", clean_display_text(recipient, 320)},
                                  {"code", clean_display_text(code, 64)}});
  mstch::map view{
      {"subject", subject_of(f.subject)},
      {"recipients", clean_display_text(recipients, 500)},
      {"files", file_list(f.files)},
      {"expires", format_time(f.expires_at) + " UTC"},
      {"downloads", times(n)},
      {"has_code", !f.access_code.empty()},
      {"access_code", clean_display_text(f.access_code, 64)},
      {"has_status_url", !f.status_url.empty()},
      {"status_url", clean_display_text(f.status_url, 500)},
      {"per_recipient", !f.own_links.empty()},
      {"linked", clean_display_text(joined(f.own_links), 2000)},
      {"has_kept", !f.kept.empty()},
      {"kept", clean_display_text(joined(f.kept), 2000)},
      {"has_codes", !codes.empty()},
      {"codes", std::move(codes)},
  };
  return mstch::render(receipt_, view);
}

std::string SenderMail::download_notice(const DownloadFacts& f) const {
  mstch::map view{
      {"what", f.files.size() == 1 ? std::string("A file") : std::to_string(f.files.size()) + " files"},
      {"subject", subject_of(f.subject)},
      {"files", file_list(f.files)},
      {"at", format_time(f.at) + " UTC"},
      {"remote_addr", clean_display_text(f.remote_addr.empty() ? "an unknown address" : f.remote_addr, 64)},
      {"user_agent", clean_display_text(f.user_agent.empty() ? "an unknown program" : f.user_agent, 200)},
      {"has_recipient", !f.recipient.empty()},
      {"recipient", clean_display_text(f.recipient, 320)},
  };
  return mstch::render(notice_, view);
}

std::string SenderMail::fresh_link(const FreshLinkFacts& f) const {
  mstch::map view{
      {"sender", clean_display_text(f.sender.empty() ? "The sender" : f.sender, 320)},
      {"subject", subject_of(f.subject)},
      {"files", file_list(f.files)},
      {"url", clean_display_text(f.url, 500)},
      {"expires", format_time(f.expires_at) + " UTC"},
      {"downloads", times(f.max_downloads)},
      {"has_code", f.has_code},
  };
  return mstch::render(fresh_link_, view);
}

}  // namespace attachgate::notify
