// The configuration reference, generated from the field table so it cannot drift from what the
// loader accepts.
#include <string>

#include "config/schema.h"

namespace edge::config {
namespace {

// Markdown table cells: '|' would end the cell.
std::string Cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string Code(const std::string& text) { return "`" + Cell(text) + "`"; }

}  // namespace

std::string FieldReferenceMarkdown() {
  std::string out =
      "| Field | Type | Default | Required | Rule | Description |\n"
      "|---|---|---|---|---|---|\n";
  for (const FieldSpec& f : FieldTable()) {
    std::string default_text = "";
    if (!f.default_doc.empty()) {
      default_text = Cell(f.default_doc);
    } else if (!f.default_json.empty()) {
      default_text = Code(f.default_json);
    }
    std::string rule = f.RuleText();
    out += "| " + Code(f.path) + " | " + ShortTypeName(f.type) + " | " + default_text + " | " +
           (f.required ? "yes" : "") + " | " + (rule.empty() ? "" : Code(rule)) + " | " +
           Cell(f.description) + " |\n";
  }
  return out;
}

}  // namespace edge::config
