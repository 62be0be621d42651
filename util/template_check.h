// util/template_check.h - a strict check of a mustache template before use.
//
// mstch renders whatever it is given and reports nothing: an unclosed
// section or a misspelt name renders as empty text. check_template() scans
// the tags against the names the caller will supply and refuses, as
// `file:line: what`, unknown names, names used outside their list, unclosed
// or crossed sections, partials, delimiter changes, raw output of a value in
// an HTML template and HTML escaping in a text template. Template files are
// admin-edited, not untrusted, but every read is bounded all the same.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "util/result.h"

namespace attachgate {

// What a template is for: HTML must only write values escaped ({{x}}), text
// must only write them raw ({{{x}}}), since escaping would show "&amp;".
enum class TemplateMedium { kText, kHtml };

enum class TemplateNameKind {
  kValue,  // written out: {{x}} / {{{x}}}; may also guard a section
  kFlag,   // a boolean, only for {{#x}} / {{^x}}
  kList,   // an array of maps, only for {{#x}} / {{^x}}
};

struct TemplateName {
  std::string_view name;
  TemplateNameKind kind = TemplateNameKind::kValue;
  // Non-empty: the name is a field of each item of this list and exists only
  // inside its section (mstch would render it empty anywhere else).
  std::string_view list = {};
};

// Checks tpl (the text of the file at path, used only in messages).
[[nodiscard]] Status check_template(const std::string& path, std::string_view tpl,
                                    std::span<const TemplateName> names, TemplateMedium medium);

// Reads a template file: an Error names the path if it cannot be read, is
// empty or is larger than 256 KiB.
[[nodiscard]] Result<std::string> read_template(const std::string& path);

}  // namespace attachgate
