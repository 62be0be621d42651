// config/policy.h - the admin's rules: keep or offload each attachment, and on what terms.
//
// Rules are tried in order and the first whose conditions all hold decides;
// when none does, the attachment is kept. Within one condition a list means
// "any of these". Sizes compare strictly: min_size = "5MB" matches attachments
// over 5 MB, not at exactly 5 MB. Facts come from mail and are untrusted;
// deciding only compares them (case-insensitively, see match.h), never stores them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/problem.h"

namespace attachgate::config {

enum class Action { keep, offload };
enum class OnError { tempfail, accept };  // accept: pass the message through unchanged
enum class DownloadNotice { never, first, every };  // mail the sender when a file is downloaded
enum class RecipientScope {
  any,
  all_internal,  // there is at least one recipient and every one is internal
  any_external,  // at least one recipient is external
};

// How the recipients of one offloaded message get their links.
enum class LinkMode {
  per_recipient,  // each recipient their own link, limit, pixel and trail (default)
  shared,         // one link for all, its limit max_downloads times the recipients
};

struct LinkTerms {
  std::int64_t expires_seconds = 7 * 86400;
  int max_downloads = 1;
  bool access_code = false;
  bool track_opens = true;
  // With per-recipient links: each link its own code (access_code =
  // "per_recipient"), instead of one code for the message.
  bool code_per_recipient = false;
  bool operator==(const LinkTerms&) const = default;
};

struct Rule {
  std::string name;
  int line = 0;  // of its [[rule]] header, for messages

  // Message conditions; an empty list is no condition.
  std::vector<std::string> senders;         // globs on the whole address
  std::vector<std::string> sender_domains;  // exact domains, lowercased
  std::vector<std::string> auth_users;  // globs on {auth_authen}; never match unauthenticated mail
  std::vector<std::string> daemon_names;  // globs on {daemon_name}; never match when it is unset
  RecipientScope recipients = RecipientScope::any;
  std::optional<std::string> subject_tag;  // case-insensitive substring of the subject

  // Attachment conditions.
  std::optional<std::uint64_t> min_size;          // attachment size > this
  std::optional<std::uint64_t> min_message_size;  // whole message size > this
  std::vector<std::string> mime_types;            // globs, e.g. "image/*"
  std::vector<std::string> filenames;             // globs, e.g. "*.zip"

  Action action = Action::keep;
  LinkTerms terms;  // the policy defaults, overridden by the rule's own keys
};

struct MessageFacts {
  std::string sender;       // envelope sender, with or without <>; "" for the null sender
  std::string auth_user;    // {auth_authen}, "" when not authenticated
  std::string daemon_name;  // {daemon_name}
  std::string subject;      // decoded
  std::vector<std::string> recipients;
  std::uint64_t message_size = 0;
};

struct AttachmentFacts {
  std::string filename;  // decoded
  std::string mime_type;
  std::uint64_t size = 0;  // decoded bytes
};

struct Decision {
  Action action = Action::keep;
  LinkTerms terms;
  std::string rule;  // the matching rule's name, or kNoRule
  bool operator==(const Decision&) const = default;
};

inline constexpr std::string_view kNoRule = "(no rule matched)";

class Policy {
 public:
  OnError on_error = OnError::tempfail;
  std::vector<std::string>
      internal_domains;  // lowercased; empty: the sender's own domain is internal
  LinkTerms defaults;
  std::vector<Rule> rules;
  bool receipts = true;  // mail the sender a receipt after each offload
  LinkMode links = LinkMode::per_recipient;
  // Above this many recipients with links, one shared link (logged).
  int max_split_recipients = 20;
  DownloadNotice download_notice = DownloadNotice::first;
  std::string source = "(embedded defaults)";

  Decision decide(const MessageFacts& message, const AttachmentFacts& attachment) const;
  // A recipient without a domain is internal: Postfix delivers it locally.
  bool is_internal(std::string_view recipient, std::string_view sender) const;
  // Removes every tag any rule names, in any case, and the whitespace it leaves
  // doubled, so "[secure] Q3 report" reaches the recipient as "Q3 report".
  std::string strip_subject_tags(std::string_view subject) const;
  // A few lines for `attachgate check` and the start-up log; no trailing newline.
  std::string summary() const;
};

// The embedded policy, the same as the shipped conf/policy.toml: keep mail
// whose recipients are all internal, offload attachments over 5 MB when any
// recipient is external.
Policy default_policy();

Loaded<Policy> load_policy(const std::string& path);

std::string_view to_string(Action action);
std::string_view to_string(OnError on_error);
std::string_view to_string(DownloadNotice notice);
std::string_view to_string(LinkMode mode);
std::string_view to_string(RecipientScope scope);

}  // namespace attachgate::config
