// Tests util/template_check.cc: every kind of template mistake mstch would
// swallow silently is refused, with the file and the line of the offending
// tag, and templates that use the names as declared pass.
#include "util/template_check.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/support/temp_dir.h"

namespace attachgate {
namespace {

using Kind = TemplateNameKind;

constexpr TemplateName kNames[] = {
    {"title", Kind::kValue},
    {"items", Kind::kList},
    {"label", Kind::kValue, "items"},
    {"ready", Kind::kFlag, "items"},
    {"urgent", Kind::kFlag},
};

// "" when the template passes, else the error message.
std::string check(std::string_view tpl, TemplateMedium medium = TemplateMedium::kHtml) {
  Status s = check_template("dir/page.html", tpl, kNames, medium);
  return s.ok() ? "" : s.error().message;
}

TEST(TemplateCheck, NamesUsedAsDeclaredPass) {
  EXPECT_EQ(check("<h1>{{title}}</h1>\n{{! a comment: {{titel}} }}\n"
                  "{{#urgent}}!{{/urgent}}{{^items}}none{{/items}}\n"
                  "{{#items}}<li>{{ label }}{{#ready}} ok{{/ready}}{{^ready}} wait{{/ready}}</li>{{/items}}\n"),
            "");
  EXPECT_EQ(check("{{{title}}}\n{{#items}}{{&label}}{{/items}}\n", TemplateMedium::kText), "");
}

TEST(TemplateCheck, UnknownNameNamesFileAndLine) {
  EXPECT_EQ(check("<h1>{{title}}</h1>\n\n<p>{{titel}}</p>\n"), "dir/page.html:3: unknown name 'titel'");
  EXPECT_EQ(check("{{#urgnet}}x{{/urgnet}}"), "dir/page.html:1: unknown name 'urgnet'");
}

TEST(TemplateCheck, ListFieldsOnlyInsideTheirList) {
  EXPECT_EQ(check("{{title}}\n{{label}}\n"), "dir/page.html:2: 'label' is only defined inside {{#items}}");
  EXPECT_EQ(check("{{#ready}}x{{/ready}}"), "dir/page.html:1: 'ready' is only defined inside {{#items}}");
}

TEST(TemplateCheck, UnclosedSectionPointsAtItsOpeningTag) {
  EXPECT_EQ(check("{{title}}\n{{#items}}\n{{label}}\n"), "dir/page.html:2: section 'items' is never closed");
}

TEST(TemplateCheck, CrossedOrStrayClosingTags) {
  EXPECT_EQ(check("{{#urgent}}\n{{#items}}\n{{/urgent}}\n{{/items}}\n"),
            "dir/page.html:3: {{/urgent}} closes section 'items'");
  EXPECT_EQ(check("x\n{{/urgent}}"), "dir/page.html:2: {{/urgent}} closes no section");
}

TEST(TemplateCheck, UnterminatedAndEmptyTags) {
  EXPECT_EQ(check("a\nb {{title\n"), "dir/page.html:2: tag is never closed with }}");
  EXPECT_EQ(check("{{{title}}\n", TemplateMedium::kText), "dir/page.html:1: tag is never closed with }}}");
  EXPECT_EQ(check("\n{{ }}"), "dir/page.html:2: empty tag");
}

TEST(TemplateCheck, PartialsAndDelimiterChangesAreRefused) {
  EXPECT_EQ(check("{{> header}}"), "dir/page.html:1: partials ({{> ...}}) are not supported");
  EXPECT_EQ(check("\n{{=<% %>=}}"), "dir/page.html:2: changing delimiters ({{=...=}}) is not supported");
}

TEST(TemplateCheck, SectionNamesAreNotValues) {
  EXPECT_EQ(check("{{urgent}}"), "dir/page.html:1: 'urgent' is a section name; use {{#urgent}} ... {{/urgent}}");
  EXPECT_EQ(check("{{items}}"), "dir/page.html:1: 'items' is a section name; use {{#items}} ... {{/items}}");
}

TEST(TemplateCheck, HtmlOnlyWritesValuesEscaped) {
  EXPECT_EQ(check("<p>\n{{{title}}}</p>"),
            "dir/page.html:2: 'title' would be written unescaped; write {{title}} in an HTML template");
  EXPECT_EQ(check("{{#items}}{{& label}}{{/items}}"),
            "dir/page.html:1: 'label' would be written unescaped; write {{label}} in an HTML template");
}

TEST(TemplateCheck, TextNeverHtmlEscapes) {
  EXPECT_EQ(check("Subject\n\n{{title}}\n", TemplateMedium::kText),
            "dir/page.html:3: {{title}} HTML-escapes; write {{{title}}} in a text template");
}

TEST(TemplateCheck, ReadTemplateRefusesMissingEmptyAndHugeFiles) {
  attachgate::testing::TempDir dir;
  std::ofstream(dir / "ok.html") << "<p>{{title}}</p>\n";
  std::ofstream(dir / "empty.html");
  std::ofstream(dir / "huge.html") << std::string(256 * 1024 + 1, 'x');
  std::ofstream(dir / "limit.html") << std::string(256 * 1024, 'x');

  Result<std::string> ok = read_template(dir / "ok.html");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(*ok, "<p>{{title}}</p>\n");
  EXPECT_TRUE(read_template(dir / "limit.html").ok());

  Result<std::string> missing = read_template(dir / "missing.html");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message.rfind(dir / "missing.html: cannot open", 0), 0u) << missing.error().message;
  Result<std::string> empty = read_template(dir / "empty.html");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message, dir / "empty.html: is empty");
  Result<std::string> huge = read_template(dir / "huge.html");
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().message, dir / "huge.html: larger than 256 KiB");
}

}  // namespace
}  // namespace attachgate
