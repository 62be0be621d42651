// config/policy.cc - deciding with a Policy, describing it, and the embedded default.
//
// Deciding only compares untrusted facts from mail with the admin's patterns;
// the glob matcher keeps that linear in the size of each (see match.h).
#include "config/policy.h"

#include <algorithm>

#include "config/match.h"
#include "util/units.h"

namespace attachgate::config {
namespace {

bool any_glob(const std::vector<std::string>& patterns, std::string_view text) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return glob_match(p, text); });
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

bool recipients_match(const Policy& policy, RecipientScope scope, const MessageFacts& m) {
  auto internal = [&](const std::string& r) { return policy.is_internal(r, m.sender); };
  switch (scope) {
    case RecipientScope::any:
      return true;
    case RecipientScope::all_internal:
      return !m.recipients.empty() &&
             std::all_of(m.recipients.begin(), m.recipients.end(), internal);
    case RecipientScope::any_external:
      return !std::all_of(m.recipients.begin(), m.recipients.end(), internal);
  }
  return false;
}

bool matches(const Policy& policy, const Rule& r, const MessageFacts& m, const AttachmentFacts& a) {
  if (!r.senders.empty() && !any_glob(r.senders, normalize_address(m.sender))) return false;
  if (!r.sender_domains.empty() && !contains(r.sender_domains, address_domain(m.sender)))
    return false;
  // "*" would match the empty string; an unset macro must not count as a match.
  if (!r.auth_users.empty() && (m.auth_user.empty() || !any_glob(r.auth_users, m.auth_user)))
    return false;
  if (!r.daemon_names.empty() &&
      (m.daemon_name.empty() || !any_glob(r.daemon_names, m.daemon_name)))
    return false;
  if (!recipients_match(policy, r.recipients, m)) return false;
  if (r.subject_tag && !contains_nocase(m.subject, *r.subject_tag)) return false;
  if (r.min_size && !(a.size > *r.min_size)) return false;
  if (r.min_message_size && !(m.message_size > *r.min_message_size)) return false;
  if (!r.mime_types.empty() && !any_glob(r.mime_types, a.mime_type)) return false;
  if (!r.filenames.empty() && !any_glob(r.filenames, a.filename)) return false;
  return true;
}

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

std::string describe_terms(const LinkTerms& t) {
  return "expires " + format_duration(t.expires_seconds) + ", " + std::to_string(t.max_downloads) +
         (t.max_downloads == 1 ? " download, " : " downloads, ") +
         (t.access_code ? (t.code_per_recipient ? "a code per recipient, " : "code, ") : "no code, ") +
         (t.track_opens ? "tracking" : "no tracking");
}

std::string describe_conditions(const Rule& r) {
  std::vector<std::string> parts;
  if (!r.senders.empty()) parts.push_back("sender " + join(r.senders, " or "));
  if (!r.sender_domains.empty()) parts.push_back("sender domain " + join(r.sender_domains, " or "));
  if (r.auth_users == std::vector<std::string>{"*"})
    parts.push_back("authenticated");
  else if (!r.auth_users.empty())
    parts.push_back("authenticated as " + join(r.auth_users, " or "));
  if (!r.daemon_names.empty()) parts.push_back("daemon " + join(r.daemon_names, " or "));
  if (r.recipients == RecipientScope::all_internal) parts.push_back("all recipients internal");
  if (r.recipients == RecipientScope::any_external) parts.push_back("any external recipient");
  if (r.subject_tag) parts.push_back("subject tag \"" + *r.subject_tag + "\"");
  if (r.min_size) parts.push_back("size > " + format_size(*r.min_size));
  if (r.min_message_size) parts.push_back("message size > " + format_size(*r.min_message_size));
  if (!r.mime_types.empty()) parts.push_back("type " + join(r.mime_types, " or "));
  if (!r.filenames.empty()) parts.push_back("filename " + join(r.filenames, " or "));
  return parts.empty() ? "always" : "if " + join(parts, " and ");
}

}  // namespace

std::string_view to_string(Action action) { return action == Action::keep ? "keep" : "offload"; }

std::string_view to_string(OnError on_error) {
  return on_error == OnError::tempfail ? "tempfail" : "accept";
}

std::string_view to_string(DownloadNotice notice) {
  switch (notice) {
    case DownloadNotice::never: return "never";
    case DownloadNotice::first: return "first";
    case DownloadNotice::every: return "every";
  }
  return "never";
}

std::string_view to_string(LinkMode mode) {
  return mode == LinkMode::shared ? "shared" : "per_recipient";
}

std::string_view to_string(RecipientScope scope) {
  switch (scope) {
    case RecipientScope::any:
      return "any";
    case RecipientScope::all_internal:
      return "all_internal";
    case RecipientScope::any_external:
      return "any_external";
  }
  return "any";
}

Decision Policy::decide(const MessageFacts& message, const AttachmentFacts& attachment) const {
  for (const Rule& r : rules)
    if (matches(*this, r, message, attachment)) return Decision{r.action, r.terms, r.name};
  return Decision{Action::keep, defaults, std::string(kNoRule)};
}

bool Policy::is_internal(std::string_view recipient, std::string_view sender) const {
  if (normalize_address(recipient).find('@') == std::string::npos) return true;
  std::string domain = address_domain(recipient);
  if (domain.empty()) return false;
  if (internal_domains.empty()) return domain == address_domain(sender);
  return contains(internal_domains, domain);
}

std::string Policy::strip_subject_tags(std::string_view subject) const {
  std::string out(subject);
  for (const Rule& r : rules) {
    if (!r.subject_tag || r.subject_tag->empty()) continue;
    const std::string tag = ascii_lower(*r.subject_tag);
    std::size_t pos;
    // ASCII lowercasing keeps byte offsets, so positions in the copy are positions in out.
    while ((pos = ascii_lower(out).find(tag)) != std::string::npos) {
      std::string left = out.substr(0, pos);
      std::string right = out.substr(pos + tag.size());
      bool spaced =
          (!left.empty() && is_blank(left.back())) || (!right.empty() && is_blank(right.front()));
      while (!left.empty() && is_blank(left.back())) left.pop_back();
      std::size_t skip = 0;
      while (skip < right.size() && is_blank(right[skip])) ++skip;
      right.erase(0, skip);
      out = left + (spaced && !left.empty() && !right.empty() ? " " : "") + right;
    }
  }
  return out;
}

std::string Policy::summary() const {
  std::string out = "on error: " + std::string(to_string(on_error)) + "\n";
  out += "internal domains: " +
         (internal_domains.empty() ? std::string("the sender's own domain")
                                   : join(internal_domains, ", ")) +
         "\n";
  out += "receipts to senders: " + std::string(receipts ? "on" : "off") +
         "; download notices: " + std::string(to_string(download_notice)) + "\n";
  out += "links: " + std::string(to_string(links)) +
         (links == LinkMode::per_recipient
              ? " (one shared link above " + std::to_string(max_split_recipients) + " recipients)"
              : std::string()) +
         "\n";
  out += "defaults: " + describe_terms(defaults) + "\n";
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    out += std::to_string(i + 1) + ". " + r.name + ": " + std::string(to_string(r.action)) + " " +
           describe_conditions(r);
    if (r.action == Action::offload) out += " (" + describe_terms(r.terms) + ")";
    out += "\n";
  }
  out += "otherwise: keep";
  return out;
}

Policy default_policy() {
  Policy p;
  Rule internal;
  internal.name = "internal-only";
  internal.recipients = RecipientScope::all_internal;
  internal.action = Action::keep;
  internal.terms = p.defaults;
  p.rules.push_back(internal);

  Rule large;
  large.name = "large-to-external";
  large.recipients = RecipientScope::any_external;
  large.min_size = 5'000'000;
  large.action = Action::offload;
  large.terms = p.defaults;
  p.rules.push_back(large);
  return p;
}

}  // namespace attachgate::config
