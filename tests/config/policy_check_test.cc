// Tests config/policy_parse.cc: what `attachgate check` says about a broken policy.
//
// Each case writes a small file and expects exactly the listed
// `file:line: message` lines, because admins act on these messages.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/policy.h"

namespace attachgate::config {
namespace {

class PolicyCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "attachgate-policy-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Writes the policy and returns its problems, each with "FILE" for the path.
  std::vector<std::string> problems(const std::string& toml) {
    std::string path = dir_ + "/policy.toml";
    std::ofstream(path, std::ios::binary) << toml;
    Loaded<Policy> loaded = load_policy(path);
    EXPECT_EQ(loaded.value.has_value(), loaded.problems.empty());
    std::vector<std::string> out;
    for (const Problem& p : loaded.problems) {
      std::string s = p.to_string();
      if (s.rfind(path, 0) == 0) s.replace(0, path.size(), "FILE");
      out.push_back(s);
    }
    return out;
  }

  std::string dir_;
};

using Lines = std::vector<std::string>;

// A rule that is valid on its own, to put around the line under test.
const char* const kHead = "[[rule]]\nname = \"r\"\naction = \"offload\"\n";

TEST_F(PolicyCheck, ValidFileHasNoProblems) {
  std::string path = dir_ + "/ok.toml";
  std::ofstream(path)
      << "on_error = \"accept\"\n"
         "internal_domains = [\"example.org\"]\n"
         "[defaults]\nexpires = \"2d\"\nmax_downloads = 2\n"
         "[[rule]]\nname = \"a\"\nsubject_tag = \" [secure] \"\naction = \"offload\"\n"
         "access_code = true\n"
         "[[rule]]\nname = \"b\"\nrecipients = \"all_internal\"\naction = \"keep\"\n";
  Loaded<Policy> loaded = load_policy(path);
  ASSERT_TRUE(loaded.ok()) << format_problems(loaded.problems);
  const Policy& p = *loaded.value;
  EXPECT_EQ(p.source, path);
  EXPECT_EQ(to_string(p.on_error), "accept");
  ASSERT_EQ(p.rules.size(), 2u);
  EXPECT_EQ(p.rules[0].subject_tag, std::optional<std::string>("[secure]"));
  EXPECT_EQ(p.rules[0].terms, (LinkTerms{2 * 86400, 2, true, true}));  // defaults, then its own key
  EXPECT_EQ(to_string(p.rules[1].action), "keep");
}

TEST_F(PolicyCheck, MissingFile) {
  std::string path = dir_ + "/absent.toml";
  Loaded<Policy> loaded = load_policy(path);
  ASSERT_EQ(loaded.problems.size(), 1u);
  EXPECT_EQ(loaded.problems[0].to_string(), path + ": cannot open: No such file or directory");
  EXPECT_EQ(loaded.problems[0].line, 0);
}

TEST_F(PolicyCheck, SyntaxError) {
  EXPECT_EQ(problems("on_error = \"tempfail\"\n[[rule]]\nname = \"x\"\naction = \n"),
            Lines{"FILE:4: TOML syntax error: missing value after key-value separator '=' "
                  "(expected value, but got nothing)"});
  EXPECT_EQ(
      problems("on_error = \"tempfail\"\non_error = \"accept\"\n"),
      Lines{
          "FILE:2: TOML syntax error: value (\"on_error\") already exists (value defined twice)"});
}

TEST_F(PolicyCheck, UnquotedTextSaysToQuoteIt) {
  EXPECT_EQ(problems("on_error = tempfail\n"),
            Lines{"FILE:1: TOML syntax error: the next token is not a boolean; put text in quotes, "
                  "e.g. key = \"value\""});
}

// Found by fuzz/config_fuzz.cc: toml11 3.7 read out of bounds on a
// multi-line string holding bytes that are not UTF-8.
TEST_F(PolicyCheck, BytesThatAreNotUtf8AreRefusedBeforeParsing) {
  EXPECT_EQ(problems("on_error = \"tempfail\"\n[[rule]]\nname = '''ab\xd5 cd'''\n"),
            Lines{"FILE:3: is not UTF-8 text; save the file as UTF-8"});
  EXPECT_EQ(problems("# caf\xe9\n"), Lines{"FILE:1: is not UTF-8 text; save the file as UTF-8"});
}

// toml11 recurses per nesting level; thousands of levels would overflow the stack.
TEST_F(PolicyCheck, DeepNestingIsRefusedBeforeParsing) {
  EXPECT_EQ(problems("# [[[[ in a comment do not count\ns = \"[[[[[[[[[[[[[[[[[[[[\"\n"
                     "x = " +
                     std::string(100000, '[') + "\n"),
            Lines{"FILE:3: values are nested more than 16 levels deep; no setting needs that"});
}

TEST_F(PolicyCheck, HugeFileIsRefused) {
  EXPECT_EQ(problems(std::string(2 * 1024 * 1024, '#')),
            Lines{"FILE: is larger than 1 MiB; is this the right file?"});
}

TEST_F(PolicyCheck, UnknownKeys) {
  EXPECT_EQ(problems("colour = 1\n"),
            Lines{"FILE:1: unknown key \"colour\"; expected one of on_error, internal_domains, "
                  "receipts, links, max_split_recipients, download_notice, defaults, rule"});
  EXPECT_EQ(problems("[default]\nexpires = \"1d\"\n"),
            Lines{"FILE:1: unknown table [default]; did you mean [defaults]?"});
  EXPECT_EQ(problems("[defaults]\nexpire = \"1d\"\n"),
            Lines{"FILE:2: unknown key \"expire\" in [defaults]; did you mean \"expires\"?"});
  EXPECT_EQ(problems(std::string(kHead) + "sender = [\"*@example.org\"]\n"),
            Lines{"FILE:4: unknown key \"sender\" in rule \"r\"; did you mean \"senders\"?"});
  EXPECT_EQ(problems("[[rules]]\nname = \"r\"\naction = \"keep\"\n"),
            Lines{"FILE:1: unknown key \"rules\"; did you mean \"rule\"?"});
}

TEST_F(PolicyCheck, BadEnums) {
  EXPECT_EQ(problems("[[rule]]\nname = \"r\"\naction = \"ofload\"\n"),
            Lines{"FILE:3: action \"ofload\" is not one of keep, offload"});
  EXPECT_EQ(problems(std::string(kHead) + "recipients = \"external\"\n"),
            Lines{"FILE:4: recipients \"external\" is not one of any, all_internal, any_external"});
  EXPECT_EQ(problems("on_error = \"reject\"\n"),
            Lines{"FILE:1: on_error \"reject\" is not one of tempfail, accept"});
  EXPECT_EQ(problems("download_notice = \"always\"\n"),
            Lines{"FILE:1: download_notice \"always\" is not one of never, first, every"});
}

TEST_F(PolicyCheck, BadSizeAndDuration) {
  EXPECT_EQ(problems(std::string(kHead) + "min_size = \"5XB\"\n"),
            Lines{"FILE:4: min_size: size '5XB' has unknown unit 'XB' (use B, KB, MB, GB, KiB, "
                  "MiB or GiB)"});
  EXPECT_EQ(problems(std::string(kHead) + "expires = \"7days\"\n"),
            Lines{"FILE:4: expires: duration '7days' must be a whole number followed by s, m, h, "
                  "d or w (e.g. 7d)"});
  EXPECT_EQ(problems("[defaults]\nexpires = \"400d\"\n"),
            Lines{"FILE:2: defaults.expires must be between 1m and 365d, not \"400d\""});
}

TEST_F(PolicyCheck, WrongTypes) {
  EXPECT_EQ(problems(std::string(kHead) + "max_downloads = \"3\"\n"),
            Lines{"FILE:4: max_downloads must be a whole number, not a string"});
  EXPECT_EQ(problems(std::string(kHead) + "min_size = 5\n"),
            Lines{"FILE:4: min_size must be a quoted size such as \"10MB\", not an integer"});
  EXPECT_EQ(problems(std::string(kHead) + "access_code = \"yes\"\n"),
            Lines{"FILE:4: access_code must be true, false or \"per_recipient\", not \"yes\""});
  EXPECT_EQ(problems(std::string(kHead) + "access_code = 1\n"),
            Lines{"FILE:4: access_code must be true or false, not an integer"});
  EXPECT_EQ(problems("links = \"per_message\"\n"),
            Lines{"FILE:1: links \"per_message\" is not one of per_recipient, shared"});
  EXPECT_EQ(problems("max_split_recipients = 0\n"),
            Lines{"FILE:1: max_split_recipients must be between 1 and 1000, not 0"});
  EXPECT_EQ(problems("receipts = \"on\"\n"),
            Lines{"FILE:1: receipts must be true or false, not a string"});
  EXPECT_EQ(problems(std::string(kHead) + "filenames = \"*.zip\"\n"),
            Lines{"FILE:4: filenames must be a list of strings such as [\"...\"], not a string"});
  EXPECT_EQ(problems("rule = 1\n"),
            Lines{"FILE:1: rule must be written as [[rule]] tables, not an integer"});
  EXPECT_EQ(problems("defaults = 1\n"),
            Lines{"FILE:1: defaults must be a table written as [defaults], not an integer"});
}

TEST_F(PolicyCheck, MissingActionAndName) {
  EXPECT_EQ(
      problems("[[rule]]\nname = \"r\"\nmin_size = \"1MB\"\n"),
      Lines{"FILE:1: rule \"r\" has no action; add action = \"keep\" or action = \"offload\""});
  EXPECT_EQ(
      problems(std::string(kHead) + "\n[[rule]]\naction = \"keep\"\n"),
      Lines{"FILE:5: rule 2 has no name; add name = \"...\" so logs and check can refer to it"});
  EXPECT_EQ(
      problems("[[rule]]\nname = \"two words\"\naction = \"keep\"\n"),
      Lines{"FILE:2: rule name \"two words\" may only use letters, digits, '-', '_' and '.'"});
}

TEST_F(PolicyCheck, DuplicateName) {
  EXPECT_EQ(
      problems(std::string(kHead) + "[[rule]]\nname = \"r\"\naction = \"keep\"\n"),
      Lines{"FILE:5: rule name \"r\" is already used at line 2; give each rule its own name"});
}

TEST_F(PolicyCheck, MaxDownloadsBounds) {
  EXPECT_EQ(problems(std::string(kHead) + "max_downloads = 0\n"),
            Lines{"FILE:4: max_downloads must be between 1 and 1000, not 0"});
  EXPECT_EQ(problems("[defaults]\nmax_downloads = 1000000\n"),
            Lines{"FILE:2: defaults.max_downloads must be between 1 and 1000, not 1000000"});
}

TEST_F(PolicyCheck, TermOnKeepRule) {
  EXPECT_EQ(
      problems("[[rule]]\nname = \"k\"\naction = \"keep\"\nexpires = \"1d\"\n"),
      Lines{"FILE:4: expires has no effect on a keep rule; remove it or set action = \"offload\""});
}

TEST_F(PolicyCheck, EmptyPatternsAndBlankTag) {
  EXPECT_EQ(problems(std::string(kHead) + "filenames = [\n  \"*.zip\",\n  \"\",\n]\n"),
            Lines{"FILE:6: filenames entry \"\" is empty; remove it or write a pattern"});
  EXPECT_EQ(problems(std::string(kHead) + "senders = []\n"),
            Lines{"FILE:4: senders is an empty list; list at least one entry or remove the key"});
  EXPECT_EQ(problems(std::string(kHead) + "subject_tag = \"  \"\n"),
            Lines{"FILE:4: subject_tag must not be empty"});
  EXPECT_EQ(problems(std::string(kHead) + "senders = [\"alice\"]\n"),
            Lines{"FILE:4: senders entry \"alice\" has no @; write e.g. alice@example.org or "
                  "*@example.org"});
  EXPECT_EQ(problems(std::string(kHead) + "mime_types = [\"pdf\"]\n"),
            Lines{"FILE:4: mime_types entry \"pdf\" must look like type/subtype, e.g. "
                  "application/pdf or image/*"});
  EXPECT_EQ(problems("internal_domains = [\"@example.org\"]\n"),
            Lines{"FILE:1: internal_domains entry \"@example.org\" must be a bare domain such as "
                  "example.org"});
}

TEST_F(PolicyCheck, ReportsEveryProblemInLineOrder) {
  EXPECT_EQ(
      problems("on_error = \"never\"\n"
               "[defaults]\n"
               "max_downloads = 0\n"
               "[[rule]]\n"
               "name = \"big\"\n"
               "min_size = \"huge\"\n"),
      (Lines{"FILE:1: on_error \"never\" is not one of tempfail, accept",
             "FILE:3: defaults.max_downloads must be between 1 and 1000, not 0",
             "FILE:4: rule \"big\" has no action; add action = \"keep\" or action = \"offload\"",
             "FILE:6: min_size: size 'huge' must start with a number (e.g. 10MB)"}));
}

TEST_F(PolicyCheck, ProblemsInSeveralRulesAreAllReported) {
  EXPECT_EQ(
      problems("[[rule]]\nname = \"a\"\naction = \"keep\"\ntrack_opens = false\n"
               "[[rule]]\nname = \"a\"\naction = \"offload\"\nmax_downloads = -1\n"
               "[[rule]]\nname = \"c\"\naction = \"offload\"\nfilename = [\"*.zip\"]\n"),
      (Lines{
          "FILE:4: track_opens has no effect on a keep rule; remove it or set action = \"offload\"",
          "FILE:6: rule name \"a\" is already used at line 2; give each rule its own name",
          "FILE:8: max_downloads must be between 1 and 1000, not -1",
          "FILE:12: unknown key \"filename\" in rule \"c\"; did you mean \"filenames\"?"}));
}

}  // namespace
}  // namespace attachgate::config
