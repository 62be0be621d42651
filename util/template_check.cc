// util/template_check.cc - see template_check.h.
//
// One pass over the template, tag by tag, keeping the stack of open
// sections; the first problem found is the one reported. Linear in the
// template apart from the line count of that one error.
#include "util/text.h"
#include "util/template_check.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

namespace attachgate {
namespace {

constexpr std::size_t kMaxTemplateBytes = 256 * 1024;

class TemplateChecker {
 public:
  TemplateChecker(const std::string& path, std::string_view tpl, std::span<const TemplateName> names,
                  TemplateMedium medium)
      : path_(path), tpl_(tpl), names_(names), medium_(medium) {}

  Status check() {
    std::size_t pos = 0;
    while ((pos = tpl_.find("{{", pos)) != std::string_view::npos) {
      Result<std::size_t> next = tag_at(pos);
      if (!next.ok()) return next.error();
      pos = *next;
    }
    if (!open_.empty())
      return fail(open_.back().second, "section '" + open_.back().first + "' is never closed");
    return {};
  }

 private:
  Error fail(std::size_t at, const std::string& what) const {
    std::size_t line = 1;
    for (std::size_t i = 0; i < at && i < tpl_.size(); ++i) line += tpl_[i] == '\n';
    return make_error(path_ + ":" + std::to_string(line) + ": " + what);
  }

  const TemplateName* find_name(std::string_view name) const {
    for (const TemplateName& k : names_)
      if (k.name == name) return &k;
    return nullptr;
  }

  // Checks the tag that starts at `at` and returns where scanning resumes.
  Result<std::size_t> tag_at(std::size_t at) {
    bool triple = tpl_.compare(at, 3, "{{{") == 0;
    std::string_view close = triple ? "}}}" : "}}";
    std::size_t body = at + close.size();
    std::size_t end = tpl_.find(close, body);
    if (end == std::string_view::npos) return fail(at, "tag is never closed with " + std::string(close));
    std::string_view inner = tpl_.substr(body, end - body);
    std::size_t resume = end + close.size();

    char sigil = triple ? '{' : '\0';
    if (!triple && !inner.empty() && std::string_view("#^/!&>=").find(inner.front()) != std::string_view::npos) {
      sigil = inner.front();
      inner.remove_prefix(1);
    }
    if (sigil == '!') return resume;
    if (sigil == '>') return fail(at, "partials ({{> ...}}) are not supported");
    if (sigil == '=') return fail(at, "changing delimiters ({{=...=}}) is not supported");

    std::string name(trim_blanks(inner));
    if (name.empty()) return fail(at, "empty tag");
    const TemplateName* known = find_name(name);
    if (known == nullptr) return fail(at, "unknown name '" + name + "'");
    if (!known->list.empty() && !inside(known->list))
      return fail(at, "'" + name + "' is only defined inside {{#" + std::string(known->list) + "}}");

    switch (sigil) {
      case '#':
      case '^':
        open_.emplace_back(name, at);
        return resume;
      case '/':
        if (open_.empty()) return fail(at, "{{/" + name + "}} closes no section");
        if (open_.back().first != name)
          return fail(at, "{{/" + name + "}} closes section '" + open_.back().first + "'");
        open_.pop_back();
        return resume;
      default:
        break;
    }
    if (known->kind != TemplateNameKind::kValue)
      return fail(at, "'" + name + "' is a section name; use {{#" + name + "}} ... {{/" + name + "}}");
    bool raw = sigil == '{' || sigil == '&';
    if (medium_ == TemplateMedium::kText && !raw)
      return fail(at, "{{" + name + "}} HTML-escapes; write {{{" + name + "}}} in a text template");
    if (medium_ == TemplateMedium::kHtml && raw)
      return fail(at, "'" + name + "' would be written unescaped; write {{" + name + "}} in an HTML template");
    return resume;
  }

  bool inside(std::string_view section) const {
    for (const auto& o : open_)
      if (o.first == section) return true;
    return false;
  }

  const std::string& path_;
  std::string_view tpl_;
  std::span<const TemplateName> names_;
  TemplateMedium medium_;
  std::vector<std::pair<std::string, std::size_t>> open_;  // section name, offset of its tag
};

}  // namespace

Status check_template(const std::string& path, std::string_view tpl, std::span<const TemplateName> names,
                      TemplateMedium medium) {
  return TemplateChecker(path, tpl, names, medium).check();
}

Result<std::string> read_template(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot open: " + std::strerror(errno));
  // One byte past the limit is enough to know it is too large.
  std::string text(kMaxTemplateBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return make_error(path + ": cannot read");
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxTemplateBytes) return make_error(path + ": larger than 256 KiB");
  if (text.empty()) return make_error(path + ": is empty");
  return text;
}

}  // namespace attachgate
