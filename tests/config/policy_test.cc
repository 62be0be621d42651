// Tests config/policy.cc: which rule decides, with what terms, and the shipped default.
//
// The decision table runs against tests/config/data/rules.toml, one rule per
// kind of condition; the shipped conf/policy.toml must decide exactly like
// default_policy(). Files are found through ATTACHGATE_SOURCE_DIR.
#include "config/policy.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

namespace attachgate::config {

// Readable failure messages; found by gtest through argument-dependent lookup.
void PrintTo(Action a, std::ostream* os) { *os << to_string(a); }
void PrintTo(const LinkTerms& t, std::ostream* os) {
  *os << "{expires " << t.expires_seconds << "s, " << t.max_downloads << " downloads, code "
      << t.access_code << ", track " << t.track_opens << "}";
}
void PrintTo(const Decision& d, std::ostream* os) {
  *os << to_string(d.action) << " by " << d.rule << " ";
  PrintTo(d.terms, os);
}

namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::uint64_t kMB = 1'000'000;

std::string source_dir() {
  const char* env = std::getenv("ATTACHGATE_SOURCE_DIR");
  return env && *env ? env : ATTACHGATE_SOURCE_DIR_DEFAULT;
}

Policy load_or_fail(const std::string& path) {
  Loaded<Policy> loaded = load_policy(path);
  EXPECT_TRUE(loaded.ok()) << format_problems(loaded.problems);
  return loaded.value.value_or(Policy{});
}

LinkTerms terms(std::int64_t expires_days, int downloads, bool code, bool track) {
  return LinkTerms{expires_days * kDay, downloads, code, track};
}

const LinkTerms kDefaults = terms(7, 1, false, true);

MessageFacts message(std::vector<std::string> recipients,
                     std::string sender = "alice@example.org") {
  MessageFacts m;
  m.sender = std::move(sender);
  m.recipients = std::move(recipients);
  m.message_size = 100'000;
  return m;
}

AttachmentFacts attachment(std::uint64_t size, std::string filename = "report.pdf",
                           std::string mime_type = "application/pdf") {
  return AttachmentFacts{std::move(filename), std::move(mime_type), size};
}

struct Case {
  std::string label;
  MessageFacts message;
  AttachmentFacts attachment;
  Action action;
  std::string rule;
  LinkTerms terms;
};

std::vector<Case> cases() {
  std::vector<Case> c;
  const std::vector<std::string> internal = {"bob@example.org"};
  const std::vector<std::string> external = {"partner@other.test"};

  c.push_back({"internal mail is kept, however large", message(internal), attachment(50 * kMB),
               Action::keep, "internal-only", kDefaults});
  c.push_back({"external and large is offloaded", message(external), attachment(6 * kMB),
               Action::offload, "large-to-external", kDefaults});
  c.push_back({"external and small is kept", message(external), attachment(100'000), Action::keep,
               "(no rule matched)", kDefaults});
  c.push_back({"min_size is strict: exactly 5 MB is kept", message(external), attachment(5 * kMB),
               Action::keep, "(no rule matched)", kDefaults});
  c.push_back({"one external among internals counts", message({"bob@example.org", "x@other.test"}),
               attachment(6 * kMB), Action::offload, "large-to-external", kDefaults});

  c.push_back({"sender glob, exact", message(external, "ceo@example.org"), attachment(50 * kMB),
               Action::keep, "ceo-keeps", kDefaults});
  c.push_back({"sender glob ? and case, with brackets", message(external, "<Boss1@Example.ORG>"),
               attachment(50 * kMB), Action::keep, "ceo-keeps", kDefaults});
  c.push_back({"sender glob ? is exactly one character", message(external, "boss12@example.org"),
               attachment(50 * kMB), Action::offload, "large-to-external", kDefaults});
  c.push_back({"sender domain, any case", message(internal, "<Someone@PARTNER.example>"),
               attachment(1000), Action::offload, "partner-domain", terms(7, 5, false, true)});
  c.push_back({"sender domain is exact, not a suffix", message(internal, "x@sub.partner.example"),
               attachment(1000), Action::keep, "internal-only", kDefaults});

  MessageFacts authed = message(external);
  authed.auth_user = "alice";
  c.push_back({"auth_users * matches any authenticated sender", authed,
               attachment(2 * kMB, "photo.png", "image/png"), Action::offload, "images-from-users",
               terms(7, 3, false, true)});
  c.push_back({"auth_users * never matches anonymous mail", message(external),
               attachment(2 * kMB, "photo.png", "image/png"), Action::keep, "(no rule matched)",
               kDefaults});
  c.push_back({"mime glob ignores case", authed, attachment(2 * kMB, "photo.jpg", "IMAGE/JPEG"),
               Action::offload, "images-from-users", terms(7, 3, false, true)});
  c.push_back({"mime glob does not match other types", authed,
               attachment(2 * kMB, "photo.jpg", "application/octet-stream"), Action::keep,
               "(no rule matched)", kDefaults});

  MessageFacts batch = message(internal);
  batch.daemon_name = "batch-nightly";
  c.push_back({"daemon_name glob", batch, attachment(1000), Action::offload, "batch-daemon",
               terms(7, 1, false, false)});
  MessageFacts submission = message(internal);
  submission.daemon_name = "submission";
  c.push_back({"other daemon_name", submission, attachment(1000), Action::keep, "internal-only",
               kDefaults});

  MessageFacts tagged = message(internal);
  tagged.subject = "Re: [SECURE] Q3 numbers";
  c.push_back({"subject tag in any case selects its rule, even internal and small", tagged,
               attachment(1000), Action::offload, "secure-tag", terms(3, 1, true, true)});
  MessageFacts tagged_ceo = message(external, "ceo@example.org");
  tagged_ceo.subject = "[secure] board pack";
  c.push_back({"first match wins: the tag rule comes before the sender rule", tagged_ceo,
               attachment(1000), Action::offload, "secure-tag", terms(3, 1, true, true)});

  c.push_back({"filename glob, any case", message(external), attachment(1000, "Backup.ZIP"),
               Action::offload, "archives", terms(1, 1, false, true)});
  c.push_back({"first match wins: internal-only precedes archives", message(internal),
               attachment(1000, "backup.7z"), Action::keep, "internal-only", kDefaults});
  c.push_back({"filename glob does not match a longer extension", message(external),
               attachment(1000, "backup.zip.exe"), Action::keep, "(no rule matched)", kDefaults});

  MessageFacts huge = message(external);
  huge.message_size = 25 * kMB;
  c.push_back({"min_message_size", huge, attachment(1000), Action::offload, "huge-message",
               terms(14, 1, false, true)});
  MessageFacts just20 = message(external);
  just20.message_size = 20 * kMB;
  c.push_back({"min_message_size is strict", just20, attachment(1000), Action::keep,
               "(no rule matched)", kDefaults});

  c.push_back({"internal_domains match brackets and upper case",
               message({"<Carol@CORP.example.net>"}), attachment(50 * kMB), Action::keep,
               "internal-only", kDefaults});
  c.push_back({"an address without a domain is internal", message({"root"}), attachment(50 * kMB),
               Action::keep, "internal-only", kDefaults});
  c.push_back({"sender's domain is not internal when internal_domains is set",
               message({"bob@acme.test"}, "alice@acme.test"), attachment(6 * kMB), Action::offload,
               "large-to-external", kDefaults});
  return c;
}

TEST(PolicyDecide, Table) {
  Policy policy = load_or_fail(source_dir() + "/tests/config/data/rules.toml");
  ASSERT_EQ(policy.rules.size(), 9u);
  for (const Case& c : cases()) {
    Decision d = policy.decide(c.message, c.attachment);
    EXPECT_EQ(d.action, c.action) << c.label;
    EXPECT_EQ(d.rule, c.rule) << c.label;
    EXPECT_EQ(d.terms, c.terms) << c.label << " (rule " << d.rule << ")";
  }
}

TEST(PolicyDecide, EmptyInternalDomainsMeansTheSendersDomain) {
  Policy policy = load_or_fail(source_dir() + "/tests/config/data/rules.toml");
  policy.internal_domains.clear();
  AttachmentFacts big = attachment(6 * kMB);
  EXPECT_EQ(policy.decide(message({"<Carol@ACME.test>"}, "alice@acme.test"), big).rule,
            "internal-only");
  EXPECT_EQ(policy.decide(message({"carol@example.org"}, "alice@acme.test"), big).rule,
            "large-to-external");
  EXPECT_TRUE(policy.is_internal("<Bob@Acme.TEST>", "alice@acme.test"));
  EXPECT_FALSE(policy.is_internal("bob@acme.test.evil", "alice@acme.test"));
  // The null sender has no domain, so nothing qualified is internal for it.
  EXPECT_FALSE(policy.is_internal("bob@acme.test", ""));
}

TEST(PolicyDecide, NoRecipientsIsNeitherAllInternalNorAnyExternal) {
  Policy policy = default_policy();
  Decision d = policy.decide(message({}), attachment(50 * kMB));
  EXPECT_EQ(d.action, Action::keep);
  EXPECT_EQ(d.rule, "(no rule matched)");
}

TEST(PolicyDecide, ParsedValues) {
  Policy policy = load_or_fail(source_dir() + "/tests/config/data/rules.toml");
  EXPECT_EQ(to_string(policy.on_error), "accept");
  EXPECT_FALSE(policy.receipts);
  EXPECT_EQ(policy.download_notice, DownloadNotice::every);
  EXPECT_EQ(policy.internal_domains, (std::vector<std::string>{"example.org", "corp.example.net"}));
  EXPECT_EQ(policy.rules[2].sender_domains, std::vector<std::string>{"partner.example"});
  EXPECT_EQ(policy.rules[0].line, 13);
  EXPECT_EQ(policy.rules[6].min_size, std::optional<std::uint64_t>(kMB));
}

TEST(PolicySubjectTags, StripsEveryTagAndTidiesWhitespace) {
  Policy policy;
  Rule secure;
  secure.name = "secure";
  secure.subject_tag = "[secure]";
  Rule big;
  big.name = "big";
  big.subject_tag = "[BIG]";
  policy.rules = {secure, big, Rule{}};
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"[secure] Q3 report", "Q3 report"},
      {"Re: [SECURE] Q3 report", "Re: Q3 report"},
      {"Q3 report [Secure]", "Q3 report"},
      {"[secure][big] x", "x"},
      {"a [secure] b [secure] c", "a b c"},
      {"a\t[big]\tb", "a b"},
      {"pre[secure]post", "prepost"},
      {"[secure]", ""},
      {"no tags  here", "no tags  here"},
      {"[secur] almost", "[secur] almost"},
      {"", ""},
  };
  for (const Case& c : cases) EXPECT_EQ(policy.strip_subject_tags(c.in), c.out) << c.in;
}

TEST(PolicyDefault, SummaryDescribesEachRule) {
  EXPECT_EQ(default_policy().summary(),
            "on error: tempfail\n"
            "internal domains: the sender's own domain\n"
            "receipts to senders: on; download notices: first\n"
            "links: per_recipient (one shared link above 20 recipients)\n"
            "defaults: expires 7d, 1 download, no code, tracking\n"
            "1. internal-only: keep if all recipients internal\n"
            "2. large-to-external: offload if any external recipient and size > 5.0 MB "
            "(expires 7d, 1 download, no code, tracking)\n"
            "otherwise: keep");
}

TEST(PolicyDefault, SummaryOfConditionsAndTerms) {
  Policy policy = load_or_fail(source_dir() + "/tests/config/data/rules.toml");
  std::string s = policy.summary();
  EXPECT_NE(s.find("\n1. secure-tag: offload if subject tag \"[Secure]\" (expires 3d, 1 download, "
                   "code, tracking)\n"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("\n2. ceo-keeps: keep if sender ceo@example.org or boss?@example.org\n"),
            std::string::npos)
      << s;
  EXPECT_NE(
      s.find("\n7. images-from-users: offload if authenticated and size > 1.0 MB and type image/* "
             "(expires 7d, 3 downloads, no code, tracking)\n"),
      std::string::npos)
      << s;
  EXPECT_NE(s.find("internal domains: example.org, corp.example.net\n"), std::string::npos) << s;
}

TEST(PolicyDefault, EqualsTheShippedPolicyFile) {
  Policy shipped = load_or_fail(source_dir() + "/conf/policy.toml");
  Policy embedded = default_policy();
  EXPECT_EQ(shipped.summary(), embedded.summary());
  EXPECT_EQ(to_string(shipped.on_error), to_string(embedded.on_error));
  EXPECT_EQ(shipped.internal_domains, embedded.internal_domains);
  EXPECT_EQ(shipped.receipts, embedded.receipts);
  EXPECT_EQ(shipped.download_notice, embedded.download_notice);
  EXPECT_EQ(shipped.defaults, embedded.defaults);
  ASSERT_EQ(shipped.rules.size(), embedded.rules.size());
  for (const Case& c : cases()) {
    EXPECT_EQ(shipped.decide(c.message, c.attachment), embedded.decide(c.message, c.attachment))
        << c.label;
  }
  EXPECT_EQ(embedded.source, "(embedded defaults)");
}

}  // namespace
}  // namespace attachgate::config
