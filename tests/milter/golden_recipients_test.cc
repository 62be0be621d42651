// Golden files for links per recipient (milter/recipient_plan.*,
// recipient_copy.* and the processor that ties them): each directory in
// tests/milter/golden_recipients/ holds a policy (policy.toml), an envelope
// (envelope: the message file from messages/, the sender, RCPT TO lines) and
// expected.txt, which records the whole decision and its effect: the log
// line, what each envelope recipient gets, who stays on the MTA's message
// and who is taken off it, the links as the catalog holds them, the access
// codes of the receipt, and every mail whole. Tokens, pixel ids, the message
// id and access codes are random in every run (the ids are real here, not
// the fixture's fixed ones) and are named by the link they belong to, found
// through the catalog; the clock is fixed, so dates need no mask.
//
// Besides the comparison every case checks what a golden file could hide
// (see check_properties). ATTACHGATE_UPDATE_GOLDEN=1 rewrites expected.txt.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "store/secrets.h"
#include "tests/milter/golden_file.h"
#include "tests/milter/processor_fixture.h"
#include "util/text.h"
#include "util/units.h"

namespace attachgate::milter::testing {
namespace {

std::string cases_dir() { return source_dir() + "/tests/milter/golden_recipients/"; }

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(cases_dir()))
    if (std::filesystem::exists(e.path() / "envelope")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

struct CaseEnvelope {
  std::string about;  // its "# " lines: why the case exists
  std::string message, sender;
  std::vector<std::string> recipients;
};

CaseEnvelope read_envelope(const std::string& path) {
  CaseEnvelope e;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      e.about += line + "\n";
      continue;
    }
    const auto colon = line.find(": ");
    const std::string key = line.substr(0, colon), value = colon == std::string::npos ? "" : line.substr(colon + 2);
    if (key == "message") e.message = value;
    else if (key == "sender") e.sender = value;
    else if (key == "rcpt") e.recipients.push_back(value);
    else ADD_FAILURE() << path << ": unknown line " << line;
  }
  return e;
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

std::string head_of(const std::string& mail) { return mail.substr(0, mail.find("\r\n\r\n") + 2); }

std::string without_cr(std::string text) {
  replace_all(text, "\r\n", "\n");
  return text;
}

std::string join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out.empty() ? "(nobody)" : out;
}

// One mail that leaves the gateway: the MTA's message or a recipient copy.
struct Mail {
  std::string title;
  std::string raw;  // CRLF, as the MTA gets it
  std::vector<std::string> to;
  std::optional<std::int64_t> outbox_link;  // a copy: the link its outbox row names
  std::set<std::size_t> links;              // indices into detail.links of the tokens it carries
  std::string masked;                       // raw with the random parts named
};

class GoldenRecipients : public ProcessorFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  struct CaseRun {
    CaseEnvelope env;
    std::string input;
    Run run;
    std::optional<store::MessageDetail> detail;
    std::vector<Mail> mails;  // [0] the MTA's message
    std::vector<std::string> codes;          // the receipt's access codes in clear, {code-N} order
    std::vector<std::string> receipt_codes;  // the receipt's word on them, for the record
    std::map<std::size_t, std::size_t> code_of_link;  // link index -> code index
    std::string attachment_line;  // the first base64 line of the attachment
  };

  CaseRun run_case(const std::string& name) {
    CaseRun res;
    const std::string dir = cases_dir() + name + "/";
    res.env = read_envelope(dir + "envelope");
    use_policy(dir + "policy.toml");
    sender_ = res.env.sender;
    random_ids_ = true;  // as in service: the masks below must find every random part
    res.input = to_crlf(read_file(cases_dir() + "messages/" + res.env.message));
    EXPECT_FALSE(res.input.empty()) << "missing message " << res.env.message;
    const auto att = res.input.find("base64\r\n\r\n");
    if (att != std::string::npos) res.attachment_line = res.input.substr(att + 10, 76);
    res.run = process(res.input, res.env.recipients);

    // The MTA removes every recipient record equal to a deleted address
    // (Postfix's cleanup_del_rcpt compares with strcmp): so do we.
    Mail mta{"the MTA's message", res.run.output, {}, std::nullopt, {}, ""};
    for (const auto& r : res.env.recipients)
      if (std::find(res.run.outcome.removed_recipients.begin(), res.run.outcome.removed_recipients.end(), r) ==
          res.run.outcome.removed_recipients.end())
        mta.to.push_back(r);
    res.mails.push_back(std::move(mta));

    auto detail = store_->catalog.show_message("4F2A1B3C");
    EXPECT_TRUE(detail.ok());
    if (detail.ok() && detail->has_value()) res.detail = std::move(**detail);
    if (!res.detail) return res;

    // Held rows: released as the milter does once the MTA has the mail.
    EXPECT_TRUE(store_->catalog.release_outbox(res.detail->message.id, kNow).ok());
    const auto due = store_->catalog.due_outbox(kNow, 1000);
    EXPECT_TRUE(due.ok());
    for (const auto& item : due.ok() ? *due : std::vector<store::OutboxItem>{}) {
      if (item.kind == store::OutboxKind::recipient_copy) {
        res.mails.push_back({"recipient copy for " + item.target, read_blob(item.blob_id), {item.target},
                             item.link_id, {}, ""});
      } else if (item.kind == store::OutboxKind::receipt) {
        const auto payload = nlohmann::json::parse(item.payload);
        if (!payload.value("access_code", std::string()).empty()) {
          res.codes.push_back(payload["access_code"]);
          res.receipt_codes.push_back("one code for every link, {code-1}");
        }
        for (const auto& c : payload.value("access_codes", nlohmann::json::array())) {
          res.codes.push_back(c["code"]);
          res.receipt_codes.push_back(c["recipient"].get<std::string>() + " {code-" +
                                      std::to_string(res.codes.size()) + "}");
        }
      }
    }
    for (std::size_t k = 0; k < res.detail->links.size(); ++k) {
      const auto& hash = res.detail->links[k].code_hash;
      for (std::size_t c = 0; hash && c < res.codes.size(); ++c)
        if (store::verify_access_code(*hash, res.codes[c])) res.code_of_link[k] = c;
    }
    for (Mail& m : res.mails) mask(res, m);
    return res;
  }

  // Names the random parts of a mail after the link they belong to.
  void mask(const CaseRun& res, Mail& m) {
    // HTML parts escape the slashes.
    static const std::regex token("(?:/|&#x2F;)d(?:/|&#x2F;)([A-Za-z0-9_-]{43})");
    std::string text = m.raw;
    for (std::sregex_iterator it(m.raw.begin(), m.raw.end(), token), end; it != end; ++it) {
      const std::string tok = (*it)[1];
      auto link = store_->catalog.find_link_by_token_hash(store_->tokens.hash(tok));
      ASSERT_TRUE(link.ok() && link->has_value()) << m.title << ": a token of no link: " << tok;
      const auto& links = res.detail->links;
      const auto k = std::find_if(links.begin(), links.end(), [&](const auto& l) { return l.id == (*link)->id; }) -
                     links.begin();
      ASSERT_LT(static_cast<std::size_t>(k), links.size()) << m.title << ": a link of another message";
      m.links.insert(k);
      replace_all(text, tok, "{link-" + std::to_string(k + 1) + "}");
    }
    for (std::size_t k = 0; k < res.detail->links.size(); ++k) {
      const std::string& pixel = res.detail->links[k].pixel_id;
      replace_all(text, pixel, "{pixel-" + std::to_string(k + 1) + "}");
      replace_all(text, pixel.substr(0, 16), "{pixel-" + std::to_string(k + 1) + "}");  // boundaries
    }
    m.masked = mask_message_id(text);
  }

  // "their own link {link-2}", "the shared link {link-1}", with its code.
  static std::string link_words(const CaseRun& res, std::size_t k, const std::string& recipient) {
    const auto& l = res.detail->links[k];
    std::string out = !l.recipient ? "the shared link" : *l.recipient == recipient ? "their own link"
                                                                                     : *l.recipient + "'s link";
    out += " {link-" + std::to_string(k + 1) + "}";
    if (auto c = res.code_of_link.find(k); c != res.code_of_link.end())
      out += " (access code {code-" + std::to_string(c->second + 1) + "})";
    else if (l.code_hash)
      out += " (an access code the receipt does not give)";
    return out;
  }

  static std::string record(const CaseRun& res) {
    const Outcome& out = res.run.outcome;
    const Mail& mta = res.mails[0];
    const bool unchanged = mta.raw == res.input;
    std::string s = res.env.about;
    s += "sender: " + res.env.sender + "\n";
    s += "envelope recipients: " + join(res.env.recipients) + "\n";
    s += std::string("outcome: ") +
         (out.action == Outcome::Action::modified ? "modified" : out.action == Outcome::Action::pass ? "pass"
                                                                                                      : "tempfail") +
         "\n";
    s += "log: " + mask_message_id(out.log) + "\n";
    s += "\nwhat each envelope recipient gets:\n";
    for (const auto& r : res.env.recipients) {
      std::vector<std::string> gets;
      if (std::find(mta.to.begin(), mta.to.end(), r) == mta.to.end()) {
        gets.push_back("taken off the MTA's message");
      } else if (unchanged || mta.links.empty()) {
        gets.push_back("stays on the MTA's message, which keeps the attachments");
      } else {
        for (std::size_t k : mta.links) gets.push_back("stays on the MTA's message, with " + link_words(res, k, r));
      }
      for (std::size_t i = 1; i < res.mails.size(); ++i) {
        if (res.mails[i].to != std::vector<std::string>{r}) continue;
        std::vector<std::string> carried;
        for (std::size_t k : res.mails[i].links) carried.push_back(link_words(res, k, r));
        gets.push_back("a recipient copy with " + join(carried));
      }
      s += "  " + r + ": " + join(gets, "; ") + "\n";
    }
    s += "the MTA's message goes to: " + join(mta.to) + "\n";
    s += "taken off it (delrcpt): " + join(out.removed_recipients) + "\n";
    if (res.detail) {
      s += "links in the catalog:\n";
      for (std::size_t k = 0; k < res.detail->links.size(); ++k) {
        const auto& l = res.detail->links[k];
        s += "  {link-" + std::to_string(k + 1) + "}: " + (l.recipient ? "for " + *l.recipient : "shared by all") +
             "; " + std::to_string(l.max_downloads) + (l.max_downloads == 1 ? " download" : " downloads") +
             "; expires after " + format_duration(l.expires_at - kNow) + (l.track_opens ? "; tracking" : "") +
             (l.code_hash ? "; access code" : "; no access code") + "\n";
      }
      s += "the receipt's access codes: " + (res.receipt_codes.empty() ? "none" : join(res.receipt_codes)) + "\n";
    }
    for (const Mail& m : res.mails) {
      s += "\n======== " + m.title + " (to " + join(m.to) + ")";
      if (&m == &mta && unchanged) {
        s += ": the input, unchanged ========\n";
        continue;
      }
      s += " ========\n" + without_cr(m.masked);
    }
    return s;
  }

  // What the golden file alone could hide; true of every case.
  static void check_properties(const CaseRun& res) {
    const Outcome& out = res.run.outcome;
    const Mail& mta = res.mails[0];
    // CRLF and 7-bit throughout, so expected.txt, written with LF, loses nothing.
    for (const Mail& m : res.mails) {
      for (std::size_t i = 0; i < m.raw.size(); ++i) {
        ASSERT_LT(static_cast<unsigned char>(m.raw[i]), 0x80) << m.title << ": 8-bit byte at " << i;
        const bool lf_ok = m.raw[i] != '\n' || (i > 0 && m.raw[i - 1] == '\r');
        const bool cr_ok = m.raw[i] != '\r' || (i + 1 < m.raw.size() && m.raw[i + 1] == '\n');
        ASSERT_TRUE(lf_ok && cr_ok) << m.title << ": a bare CR or LF at " << i;
      }
    }
    // Each address of the envelope gets one mail: the MTA's or a copy.
    for (const std::string& r : std::set<std::string>(res.env.recipients.begin(), res.env.recipients.end())) {
      int mails = std::count(mta.to.begin(), mta.to.end(), r) > 0 ? 1 : 0;
      for (std::size_t i = 1; i < res.mails.size(); ++i) mails += res.mails[i].to.front() == r;
      EXPECT_EQ(mails, 1) << r << " gets " << mails << " mails";
    }
    if (out.action == Outcome::Action::modified) {
      EXPECT_FALSE(mta.to.empty()) << "the MTA's message goes to nobody";
    }
    if (!res.detail) {
      EXPECT_EQ(res.mails.size(), 1u);
      EXPECT_EQ(mta.raw, res.input) << "nothing offloaded, yet the message changed";
      return;
    }
    // Every link is in one mail, a mail carries at most one, the copy the
    // one its outbox row names, and a recipient's own link reaches only
    // that recipient. So no two recipients share a token.
    const auto& links = res.detail->links;
    std::vector<int> reached(links.size(), 0);
    for (const Mail& m : res.mails) {
      EXPECT_LE(m.links.size(), 1u) << m.title;
      for (std::size_t k : m.links) {
        ++reached[k];
        if (!links[k].recipient) continue;
        for (const auto& r : m.to)
          EXPECT_EQ(r, *links[k].recipient) << m.title << " shows " << *links[k].recipient << "'s link to " << r;
      }
      if (m.outbox_link) {
        ASSERT_EQ(m.links.size(), 1u) << m.title;
        EXPECT_EQ(links[*m.links.begin()].id, *m.outbox_link) << m.title;
      }
    }
    for (std::size_t k = 0; k < links.size(); ++k)
      EXPECT_EQ(reached[k], 1) << "{link-" << k + 1 << "} is in " << reached[k] << " mails";
    const bool shared = std::any_of(links.begin(), links.end(), [](const auto& l) { return !l.recipient; });
    if (shared) {
      EXPECT_EQ(links.size(), 1u) << "a shared link is the only one";
      EXPECT_EQ(res.mails.size(), 1u) << "no copies with a shared link";
      EXPECT_TRUE(out.removed_recipients.empty());
    }
    // The mails with links are one mail but for their link: every header
    // but the link's own parts, every byte of the body but the link block.
    const Mail* first = nullptr;
    std::string first_text;
    for (const Mail& m : res.mails) {
      if (m.links.size() != 1) continue;
      std::string text = m.masked;
      const std::string k = std::to_string(*m.links.begin() + 1);
      replace_all(text, "{link-" + k + "}", "{this link}");
      replace_all(text, "{pixel-" + k + "}", "{this pixel}");
      if (!first) {
        first = &m;
        first_text = text;
      } else {
        EXPECT_EQ(text, first_text) << m.title << " and " << first->title << " differ beyond their links";
      }
    }
    // A recipient the headers do not name (Bcc) is named in no mail's headers.
    const std::string input_head = ascii_lower(head_of(res.input));
    for (const auto& r : res.env.recipients) {
      if (input_head.find(ascii_lower(r)) != std::string::npos) continue;
      for (const Mail& m : res.mails)
        EXPECT_EQ(ascii_lower(head_of(m.raw)).find(ascii_lower(r)), std::string::npos)
            << m.title << " names the Bcc recipient " << r << " in its headers";
    }
    // The attachment stays only where no link replaced it; a kept message
    // keeps its body byte for byte.
    ASSERT_FALSE(res.attachment_line.empty());
    for (const Mail& m : res.mails)
      EXPECT_EQ(m.raw.find(res.attachment_line) != std::string::npos, m.links.empty())
          << m.title << (m.links.empty() ? " lost the attachment" : " carries a link and the attachment");
    if (mta.links.empty()) {
      EXPECT_EQ(mta.raw.substr(mta.raw.find("\r\n\r\n")), res.input.substr(res.input.find("\r\n\r\n")));
    }
    // Access codes: each coded link's code is in the receipt, and in no mail.
    for (std::size_t k = 0; k < links.size(); ++k)
      EXPECT_TRUE(!links[k].code_hash || res.code_of_link.count(k) == 1) << "{link-" << k + 1 << "}'s code";
    for (const auto& code : res.codes)
      for (const Mail& m : res.mails) EXPECT_EQ(m.raw.find(code), std::string::npos) << m.title << " shows a code";
    // Nothing random is left unnamed.
    static const std::regex unnamed_link("(?:/|&#x2F;)d(?:/|&#x2F;)(?!\\{link-)");
    for (const Mail& m : res.mails) {
      EXPECT_FALSE(std::regex_search(m.masked, unnamed_link)) << m.title << ": a link not masked";
      EXPECT_EQ(m.masked.find(res.detail->message.public_id), std::string::npos) << m.title;
    }
  }
};

TEST_P(GoldenRecipients, MatchesExpectedDecision) {
  CaseRun res = run_case(GetParam());
  ASSERT_FALSE(HasFatalFailure());
  expect_golden(cases_dir() + GetParam() + "/expected.txt", record(res));
  check_properties(res);
}

INSTANTIATE_TEST_SUITE_P(Recipients, GoldenRecipients, ::testing::ValuesIn(case_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace attachgate::milter::testing
