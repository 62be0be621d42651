// Golden files for MIME rewriting: tests/milter/golden/NAME.in.eml goes
// through the processor and must equal NAME.out.eml (the message id in
// X-Attachgate normalised). Besides the byte comparison, every case checks
// the properties a golden file could hide: output is CRLF and 7-bit, no
// offloaded attachment is left, the stored blob is the original bytes.
// ATTACHGATE_UPDATE_GOLDEN=1 rewrites the .out.eml files for review.
#include <gtest/gtest.h>
#include <gmime/gmime.h>
#include <sodium.h>

#include "milter/gobject_ptr.h"
#include "tests/milter/golden_file.h"
#include "tests/milter/processor_fixture.h"

namespace attachgate::milter::testing {
namespace {

struct Case {
  const char* name;
  Outcome::Action action;
  int offloaded;        // files recorded in the catalog
  const char* must_have;  // a string the output must contain ("" for none)
};

const Case kCases[] = {
    {"pdf_attachment", Outcome::Action::modified, 1, "report.pdf"},
    {"alternative_two_attachments", Outcome::Action::modified, 2, "Subject: Two files"},
    {"forwarded_rfc822", Outcome::Action::modified, 1, "Original text."},
    {"inline_image_kept", Outcome::Action::pass, 0, ""},
    {"latin1_quoted_printable", Outcome::Action::modified, 1, "charset=iso-8859-1"},
    {"utf8_base64", Outcome::Action::modified, 1, "charset=utf-8"},
    {"no_text_part", Outcome::Action::modified, 1, "multipart/alternative"},
    {"signed_untouched", Outcome::Action::pass, 0, ""},
    {"rfc2231_filename", Outcome::Action::modified, 1, ""},
    {"rfc2047_filename", Outcome::Action::modified, 1, ""},
    {"hostile_filename", Outcome::Action::modified, 1, ""},
    {"bare_lf", Outcome::Action::modified, 1, "lf.pdf"},
    {"malformed_missing_closing_boundary", Outcome::Action::modified, 1, "cut.pdf"},
    {"malformed_undeclared_boundary", Outcome::Action::pass, 0, ""},
    {"malformed_bad_base64", Outcome::Action::modified, 1, "bad.pdf"},
};

std::string golden_dir() { return source_dir() + "/tests/milter/golden/"; }

std::string sha256_hex(const std::string& data) {
  unsigned char d[32];
  crypto_hash_sha256(d, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, d, 32);
  return hex;
}

// The decoded text/plain and text/html parts of the outer message that are
// not attachments, as (type, text): where the notice must be. A forwarded
// message/rfc822 is not entered.
void collect_texts(GMimeObject* obj, std::vector<std::pair<std::string, std::string>>& out) {
  if (GMIME_IS_MULTIPART(obj)) {
    for (int i = 0; i < g_mime_multipart_get_count(GMIME_MULTIPART(obj)); ++i)
      collect_texts(g_mime_multipart_get_part(GMIME_MULTIPART(obj), i), out);
    return;
  }
  if (!GMIME_IS_TEXT_PART(obj) || g_mime_part_get_filename(GMIME_PART(obj))) return;
  const std::string subtype = g_mime_content_type_get_media_subtype(g_mime_object_get_content_type(obj));
  if (subtype != "plain" && subtype != "html") return;
  char* text = g_mime_text_part_get_text(GMIME_TEXT_PART(obj));
  out.emplace_back("text/" + subtype, text ? text : "");
  g_free(text);
}

std::vector<std::pair<std::string, std::string>> decoded_body_texts(const std::string& raw) {
  init_gmime();
  std::vector<std::pair<std::string, std::string>> out;
  auto stream = adopt(g_mime_stream_mem_new_with_buffer(raw.data(), raw.size()));
  auto parser = adopt(g_mime_parser_new_with_stream(stream.get()));
  auto message = adopt(g_mime_parser_construct_message(parser.get(), nullptr));
  if (message) collect_texts(g_mime_message_get_mime_part(message.get()), out);
  return out;
}

class Golden : public ProcessorFixture, public ::testing::WithParamInterface<Case> {};

TEST_P(Golden, MatchesExpectedOutput) {
  const Case& c = GetParam();
  const std::string input = read_file(golden_dir() + c.name + ".in.eml");
  ASSERT_FALSE(input.empty()) << "missing fixture " << c.name;
  Run r = process(input);
  EXPECT_EQ(r.outcome.action, c.action) << r.outcome.log;

  expect_golden(golden_dir() + c.name + ".out.eml", mask_message_id(r.output));

  // Properties.
  for (std::size_t i = 0; i < r.output.size(); ++i) {
    ASSERT_LT(static_cast<unsigned char>(r.output[i]), 0x80) << "8-bit byte at " << i;
    if (r.output[i] == '\n') {
      ASSERT_TRUE(i > 0 && r.output[i - 1] == '\r') << "bare LF at " << i;
    }
  }
  if (*c.must_have) {
    EXPECT_NE(r.output.find(c.must_have), std::string::npos) << c.must_have;
  }
  const auto files = store_->catalog.count(store::CatalogTable::files).value();
  EXPECT_EQ(files, c.offloaded);
  if (c.action == Outcome::Action::pass) {
    EXPECT_EQ(r.output, to_crlf(input)) << "a passed message must be unchanged";
    EXPECT_TRUE(store_->blobs.list_blobs()->empty());
    return;
  }
  // Every body text part, decoded, carries the link (HTML escapes '/').
  const auto texts = decoded_body_texts(r.output);
  EXPECT_FALSE(texts.empty());
  for (const auto& [type, text] : texts) {
    const bool has_link =
        text.find("https://files.example.test/d/GoldenTokenGoldenTokenGoldenTokenGoldenTok") !=
            std::string::npos ||
        text.find("https:&#x2F;&#x2F;files.example.test&#x2F;d&#x2F;GoldenTokenGoldenTokenGoldenTokenGoldenTok") !=
            std::string::npos;
    EXPECT_TRUE(has_link) << "no link in a " << type << " part:\n" << text;
  }
  EXPECT_NE(r.output.find("X-Attachgate: offloaded=" + std::to_string(c.offloaded) + "; message="),
            std::string::npos);
  // The first base64 line of the shared fixture attachment is gone, and what
  // the store holds is the original bytes.
  const std::string pdf = read_file(golden_dir() + "attachment.pdf");
  EXPECT_EQ(r.output.find("JVBERi0xLjQgZ29sZGVuI"), std::string::npos) << "attachment still in the mail";
  auto detail = store_->catalog.show_message("4F2A1B3C").value();
  ASSERT_TRUE(detail.has_value());
  const std::string name = c.name;
  if (name != "malformed_bad_base64" && name != "hostile_filename") {
    EXPECT_EQ(detail->files.front().sha256, sha256_hex(pdf)) << detail->files.front().filename;
  }
}

INSTANTIATE_TEST_SUITE_P(Mime, Golden, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace attachgate::milter::testing
