// config/policy_parse.cc - reads and checks conf/policy.toml.
//
// The file is the admin's, but `attachgate check` must catch every mistake
// before a reload: each problem is reported with the line of the offending
// value, or of the [[rule]] header when a required key is missing, and the
// Policy is returned only when there are none.
#include <map>

#include "config/match.h"
#include "config/policy.h"
#include "config/toml_reader.h"

namespace attachgate::config {
namespace {

using detail::TableReader;

constexpr std::string_view kTermKeys[] = {"expires", "max_downloads", "access_code", "track_opens"};

template <class T, class U>
void set(T& field, const std::optional<U>& value) {
  if (value) field = static_cast<T>(*value);
}

std::string check_domain(std::string_view d) {
  if (d.find_first_of("@*? \t") != std::string_view::npos || d.front() == '.' || d.back() == '.')
    return "must be a bare domain such as example.org";
  return "";
}

std::string check_sender(std::string_view s) {
  if (s != "*" && s.find('@') == std::string_view::npos)
    return "has no @; write e.g. alice@example.org or *@example.org";
  return "";
}

std::string check_mime_type(std::string_view s) {
  if (s != "*" && s.find('/') == std::string_view::npos)
    return "must look like type/subtype, e.g. application/pdf or image/*";
  return "";
}

std::vector<std::string> lowered(std::vector<std::string> items) {
  for (std::string& s : items) s = ascii_lower(s);
  return items;
}

// Names appear in log lines and in check output, so they stay one plain word.
std::string check_rule_name(std::string_view name) {
  if (name.size() > 64) return "is longer than 64 characters";
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return "may only use letters, digits, '-', '_' and '.'";
  }
  return "";
}

void read_terms(TableReader& r, LinkTerms& t) {
  set(t.expires_seconds, r.duration("expires", "1m", "365d"));
  set(t.max_downloads, r.integer("max_downloads", 1, 1000));
  // access_code: true (one code for the message), false, or "per_recipient".
  const toml::value* code = r.take("access_code");
  if (code && code->is_string()) {
    if (code->as_string().str == "per_recipient")
      t.access_code = t.code_per_recipient = true;
    else
      r.report(detail::line_of(*code), r.name("access_code") +
                                           " must be true, false or \"per_recipient\", not \"" +
                                           code->as_string().str + "\"");
  } else if (auto f = r.flag("access_code")) {
    t.access_code = *f;
    t.code_per_recipient = false;
  }
  set(t.track_opens, r.flag("track_opens"));
}

void read_conditions(TableReader& r, Rule& rule) {
  set(rule.senders, r.text_list("senders", false, check_sender));
  if (auto d = r.text_list("sender_domains", false, check_domain))
    rule.sender_domains = lowered(*d);
  set(rule.auth_users, r.text_list("auth_users", false, nullptr));
  set(rule.daemon_names, r.text_list("daemon_names", false, nullptr));
  if (auto s = r.choice("recipients", {"any", "all_internal", "any_external"}))
    rule.recipients = *s == "all_internal"   ? RecipientScope::all_internal
                      : *s == "any_external" ? RecipientScope::any_external
                                             : RecipientScope::any;
  if (auto tag = r.text("subject_tag")) {
    std::size_t b = tag->find_first_not_of(" \t"), e = tag->find_last_not_of(" \t");
    rule.subject_tag = tag->substr(b, e - b + 1);
  }
  set(rule.min_size, r.size("min_size", "0", "64GB"));
  set(rule.min_message_size, r.size("min_message_size", "0", "64GB"));
  set(rule.mime_types, r.text_list("mime_types", false, check_mime_type));
  set(rule.filenames, r.text_list("filenames", false, nullptr));
}

// Reads one [[rule]] table; index counts from 1. Returns nothing when it has problems.
std::optional<Rule> read_rule(const toml::value& table, std::size_t index, const Policy& policy,
                              std::vector<Problem>& problems) {
  const std::size_t before = problems.size();
  Rule rule;
  rule.line = detail::line_of(table);
  rule.terms = policy.defaults;

  // Messages name the rule the way the admin wrote it, when that is possible.
  std::string label = "rule " + std::to_string(index);
  auto named = table.as_table().find("name");
  if (named != table.as_table().end() && named->second.is_string())
    label = "rule \"" + named->second.as_string().str + "\"";
  TableReader r(table, policy.source, label, "", problems);

  if (auto name = r.text("name")) {
    std::string why = check_rule_name(*name);
    if (why.empty())
      rule.name = *name;
    else
      r.report(r.line("name"), "rule name \"" + *name + "\" " + why);
  } else if (!r.has("name")) {
    r.report(rule.line,
             label + " has no name; add name = \"...\" so logs and check can refer to it");
  }

  std::optional<std::string> action = r.choice("action", {"keep", "offload"});
  if (action)
    rule.action = *action == "offload" ? Action::offload : Action::keep;
  else if (!r.has("action"))
    r.report(rule.line, label + " has no action; add action = \"keep\" or action = \"offload\"");

  read_conditions(r, rule);
  read_terms(r, rule.terms);
  if (action && rule.action == Action::keep)
    for (std::string_view key : kTermKeys)
      if (r.has(key))
        r.report(r.line(key),
                 std::string(key) +
                     " has no effect on a keep rule; remove it or set action = \"offload\"");
  r.finish();
  if (problems.size() != before) return std::nullopt;
  return rule;
}

void read_rules(const toml::value& v, Policy& policy, std::vector<Problem>& problems) {
  if (!v.is_array()) {
    problems.push_back({policy.source, detail::line_of(v),
                        "rule must be written as [[rule]] tables, not " + detail::type_name(v)});
    return;
  }
  std::map<std::string, int> name_lines;
  std::size_t index = 0;
  for (const toml::value& table : v.as_array()) {
    ++index;
    if (!table.is_table()) {
      problems.push_back(
          {policy.source, detail::line_of(table),
           "rule must be written as [[rule]] tables, not " + detail::type_name(table)});
      continue;
    }
    std::optional<Rule> rule = read_rule(table, index, policy, problems);
    // Duplicates are checked even for rules with other problems, so one pass shows all.
    auto name = table.as_table().find("name");
    if (name != table.as_table().end() && name->second.is_string()) {
      const std::string& n = name->second.as_string().str;
      auto [it, fresh] = name_lines.emplace(n, detail::line_of(name->second));
      if (!fresh)
        problems.push_back({policy.source, detail::line_of(name->second),
                            "rule name \"" + n + "\" is already used at line " +
                                std::to_string(it->second) + "; give each rule its own name"});
    }
    if (rule) policy.rules.push_back(std::move(*rule));
  }
}

}  // namespace

Loaded<Policy> load_policy(const std::string& path) {
  Loaded<Policy> out;
  std::optional<toml::value> doc = detail::parse_toml_file(path, out.problems);
  if (!doc) return out;

  Policy p;
  p.source = path;
  TableReader top(*doc, path, "", "", out.problems);
  if (auto s = top.choice("on_error", {"tempfail", "accept"}))
    p.on_error = *s == "accept" ? OnError::accept : OnError::tempfail;
  if (auto d = top.text_list("internal_domains", true, check_domain))
    p.internal_domains = lowered(*d);
  if (auto f = top.flag("receipts")) p.receipts = *f;
  if (auto l = top.choice("links", {"per_recipient", "shared"}))
    p.links = *l == "shared" ? LinkMode::shared : LinkMode::per_recipient;
  set(p.max_split_recipients, top.integer("max_split_recipients", 1, 1000));
  if (auto n = top.choice("download_notice", {"never", "first", "every"}))
    p.download_notice = *n == "never"   ? DownloadNotice::never
                        : *n == "every" ? DownloadNotice::every
                                        : DownloadNotice::first;
  // Defaults first: every rule's terms start from them, wherever [defaults] sits in the file.
  if (const toml::value* t = top.table("defaults")) {
    TableReader r(*t, path, "[defaults]", "defaults.", out.problems);
    read_terms(r, p.defaults);
    r.finish();
  }
  if (const toml::value* rules = top.take("rule")) read_rules(*rules, p, out.problems);
  top.finish();

  detail::sort_problems(out.problems);
  if (out.problems.empty()) out.value = std::move(p);
  return out;
}

}  // namespace attachgate::config
