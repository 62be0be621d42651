// Tests web/form.cc: urlencoded bodies from untrusted clients.
#include "web/form.h"

#include <gtest/gtest.h>

#include <string>

namespace attachgate::web {
namespace {

using namespace std::string_literals;

TEST(Form, PercentDecode) {
  struct Case {
    std::string in;
    bool plus_is_space;
    std::optional<std::string> out;
  };
  const Case cases[] = {
      {"", true, ""},
      {"plain", true, "plain"},
      {"a+b", true, "a b"},
      {"a+b", false, "a+b"},
      {"%2B", true, "+"},
      {"%41%62", false, "Ab"},
      {"%e2%82%ac", false, "\xE2\x82\xAC"},
      {"%E2%82%AC", false, "\xE2\x82\xAC"},
      {"%00", false, "\0"s},
      {"%0D%0A", false, "\r\n"},
      {"%25", false, "%"},
      {"%2525", false, "%25"},  // decoded once only
      {"100%", false, std::nullopt},
      {"%4", false, std::nullopt},
      {"%zz", false, std::nullopt},
      {"%4g", false, std::nullopt},
      {"%g4", false, std::nullopt},
      {"a%", true, std::nullopt},
      {"%%41", false, std::nullopt},
      {"% 41", false, std::nullopt},
      {"%+4", true, std::nullopt},
  };
  for (const Case& c : cases)
    EXPECT_EQ(percent_decode(c.in, c.plus_is_space), c.out) << c.in << " plus_is_space=" << c.plus_is_space;
}

using Fields = std::vector<std::pair<std::string, std::string>>;

TEST(Form, ParsesFields) {
  struct Case {
    std::string body;
    Fields fields;
  };
  const Case cases[] = {
      {"", {}},
      {"&", {}},
      {"&&&", {}},
      {"code=1234", {{"code", "1234"}}},
      {"code=12+34&file=a%26b", {{"code", "12 34"}, {"file", "a&b"}}},
      {"a=1&&b=2&", {{"a", "1"}, {"b", "2"}}},
      {"flag", {{"flag", ""}}},
      {"flag=", {{"flag", ""}}},
      {"=value", {{"", "value"}}},
      {"a=b=c", {{"a", "b=c"}}},
      {"a%20b=%3D", {{"a b", "="}}},
      {"name=caf%C3%A9", {{"name", "caf\xC3\xA9"}}},
      {"x=1&x=2", {{"x", "1"}, {"x", "2"}}},
      {"a=%26%3D%2B", {{"a", "&=+"}}},
  };
  for (const Case& c : cases) {
    Result<Form> form = parse_form(c.body);
    ASSERT_TRUE(form.ok()) << c.body << ": " << form.error().message;
    EXPECT_EQ(form->fields, c.fields) << c.body;
  }
}

TEST(Form, GetReturnsFirstOfRepeatedNames) {
  Result<Form> form = parse_form("x=1&y=&x=2");
  ASSERT_TRUE(form.ok());
  ASSERT_NE(form->get("x"), nullptr);
  EXPECT_EQ(*form->get("x"), "1");
  ASSERT_NE(form->get("y"), nullptr);
  EXPECT_EQ(*form->get("y"), "");
  EXPECT_EQ(form->get("z"), nullptr);
  EXPECT_EQ(form->get("X"), nullptr);  // names are case-sensitive
}

std::string fields(std::size_t n) {
  std::string body;
  for (std::size_t i = 0; i < n; ++i) body += (i ? "&f" : "f") + std::to_string(i) + "=v";
  return body;
}

TEST(Form, Limits) {
  struct Case {
    std::string body;
    std::string error;  // empty: accepted
  };
  const Case cases[] = {
      {fields(32), ""},
      {fields(33), "form has too many fields"},
      {fields(32) + "&&&", ""},  // empty pieces are not fields
      {fields(1000), "form has too many fields"},
      {std::string(64, 'n') + "=v", ""},
      {std::string(65, 'n') + "=v", "form field name is too long"},
      {"n=" + std::string(1024, 'v'), ""},
      {"n=" + std::string(1025, 'v'), "form field value is too long"},
      {"n=" + std::string(100000, 'v'), "form field value is too long"},
      // Limits count decoded bytes, not raw ones.
      {[] { std::string s = "n="; for (int i = 0; i < 1024; ++i) s += "%41"; return s; }(), ""},
      {[] { std::string s = "n="; for (int i = 0; i < 1025; ++i) s += "%41"; return s; }(),
       "form field value is too long"},
      {[] { std::string s; for (int i = 0; i < 64; ++i) s += "%41"; return s + "=v"; }(), ""},
      {std::string(1025, '+'), "form field name is too long"},
  };
  for (const Case& c : cases) {
    Result<Form> form = parse_form(c.body);
    if (c.error.empty()) {
      EXPECT_TRUE(form.ok()) << c.body.substr(0, 80) << ": " << form.error().message;
    } else {
      ASSERT_FALSE(form.ok()) << c.body.substr(0, 80);
      EXPECT_EQ(form.error().message, c.error) << c.body.substr(0, 80);
    }
  }
}

TEST(Form, RejectsBadEscapesAndBadUtf8) {
  struct Case {
    std::string body, error;
  };
  const Case cases[] = {
      {"code=%zz", "form has a malformed percent escape"},
      {"code=12%4", "form has a malformed percent escape"},
      {"co%dx=1", "form has a malformed percent escape"},
      {"a=1&b=%", "form has a malformed percent escape"},
      {"name=%FF", "form field value is not valid UTF-8"},
      {"name=%C0%AF", "form field value is not valid UTF-8"},     // overlong '/'
      {"name=%ED%A0%80", "form field value is not valid UTF-8"},  // surrogate
      {"name=%E2%82", "form field value is not valid UTF-8"},     // cut short
      {"%FF=1", "form field name is not valid UTF-8"},
      {"name=caf\xE9", "form field value is not valid UTF-8"},    // raw Latin-1 byte
  };
  for (const Case& c : cases) {
    Result<Form> form = parse_form(c.body);
    ASSERT_FALSE(form.ok()) << c.body;
    EXPECT_EQ(form.error().message, c.error) << c.body;
  }
}

TEST(Form, ContentType) {
  struct Case {
    std::string type;
    bool form;
  };
  const Case cases[] = {
      {"application/x-www-form-urlencoded", true},
      {"Application/X-WWW-Form-URLEncoded", true},
      {"application/x-www-form-urlencoded; charset=UTF-8", true},
      {"application/x-www-form-urlencoded;charset=utf-8", true},
      {" application/x-www-form-urlencoded ; charset=UTF-8", true},
      {"", false},
      {"multipart/form-data; boundary=x", false},
      {"text/plain", false},
      {"application/json", false},
      {"application/x-www-form-urlencodedx", false},
      {"application/x-www-form", false},
      {"application/x-www-form-urlencoded\r\n", false},
      {"x-application/x-www-form-urlencoded", false},
  };
  for (const Case& c : cases) EXPECT_EQ(is_form_content_type(c.type), c.form) << c.type;
}

}  // namespace
}  // namespace attachgate::web
