// Lookups over the field table and the wording of types and rules (shared by error messages and
// the reference documentation, so both say the same thing).
#include "config/schema.h"

#include <string>

#include "config/config.h"

namespace edge::config {
namespace {

bool HasNestedOwner(std::string_view rest) {
  return rest.find("[]") != std::string_view::npos || rest.find("<name>") != std::string_view::npos;
}

std::string Bound(FieldType type, int64_t v) {
  if (type == FieldType::kSize && v > 0) return FormatSize(static_cast<uint64_t>(v));
  return std::to_string(v);
}

constexpr int64_t kNoMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();

}  // namespace

std::string FieldSpec::Parent() const {
  size_t dot = path.rfind('.');
  return dot == std::string::npos ? std::string() : path.substr(0, dot);
}

std::string FieldSpec::Key() const {
  size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

const char* ShortTypeName(FieldType type) {
  switch (type) {
    case FieldType::kSection:
      return "object";
    case FieldType::kObjectList:
      return "array of objects";
    case FieldType::kObjectMap:
      return "map of objects";
    case FieldType::kString:
      return "string";
    case FieldType::kPath:
      return "path";
    case FieldType::kName:
      return "name";
    case FieldType::kBool:
      return "bool";
    case FieldType::kInt:
      return "integer";
    case FieldType::kSize:
      return "size";
    case FieldType::kOctalMode:
      return "octal string";
    case FieldType::kEnum:
      return "enum";
    case FieldType::kStringList:
      return "string array";
    case FieldType::kIntList:
      return "integer array";
    case FieldType::kListen:
      return "host:port";
  }
  return "?";
}

std::string FieldSpec::TypeText() const {
  switch (type) {
    case FieldType::kSection:
      return "an object";
    case FieldType::kObjectList:
      return "an array of objects";
    case FieldType::kObjectMap:
      return "an object of named entries";
    case FieldType::kString:
    case FieldType::kPath:
    case FieldType::kName:
      return "a string";
    case FieldType::kBool:
      return "true or false";
    case FieldType::kInt:
      return "an integer";
    case FieldType::kSize:
      return "a size like 256MiB or an integer number of bytes";
    case FieldType::kOctalMode:
      return "an octal mode string like \"0660\"";
    case FieldType::kEnum: {
      std::string s = "one of ";
      for (size_t i = 0; i < choices.size(); i++) {
        if (i > 0) s += ", ";
        s += "\"" + choices[i] + "\"";
      }
      return s;
    }
    case FieldType::kStringList:
      return "an array of strings";
    case FieldType::kIntList:
      return "an array of integers";
    case FieldType::kListen:
      return "a string \"HOST:PORT\"";
  }
  return "?";
}

std::string FieldSpec::RuleText() const {
  switch (type) {
    case FieldType::kInt:
    case FieldType::kSize:
    case FieldType::kIntList: {
      std::string each = type == FieldType::kIntList ? "each " : "";
      if (min != kNoMin && max != kNoMax) return each + Bound(type, min) + ".." + Bound(type, max);
      if (min != kNoMin) return each + ">= " + Bound(type, min);
      return "";
    }
    case FieldType::kName:
      return "[A-Za-z0-9._-]{1," + std::to_string(max) + "}";
    case FieldType::kObjectMap: {
      std::string s = "names [A-Za-z0-9._-]{1," + std::to_string(max) + "}";
      if (min > 0) s += "; at least " + std::to_string(min);
      return s;
    }
    case FieldType::kObjectList:
    case FieldType::kStringList:
      return min > 0 ? "at least " + std::to_string(min) : "";
    case FieldType::kString:
      return min > 0 ? "not empty" : "";
    case FieldType::kPath:
      return min > 0 ? "absolute path" : "absolute path or empty";
    case FieldType::kEnum: {
      std::string s;
      for (size_t i = 0; i < choices.size(); i++) {
        if (i > 0) s += " | ";
        s += choices[i].empty() ? "\"\"" : choices[i];
      }
      return s;
    }
    case FieldType::kListen:
      return "loopback only, or empty";
    case FieldType::kOctalMode:
      return "<= 0777";
    case FieldType::kSection:
    case FieldType::kBool:
      return "";
  }
  return "";
}

const FieldSpec* FindField(std::string_view pattern) {
  for (const FieldSpec& f : FieldTable()) {
    if (f.path == pattern) return &f;
  }
  return nullptr;
}

std::vector<const FieldSpec*> ChildFields(std::string_view parent_pattern) {
  std::vector<const FieldSpec*> out;
  for (const FieldSpec& f : FieldTable()) {
    if (f.Parent() == parent_pattern) out.push_back(&f);
  }
  return out;
}

std::vector<const FieldSpec*> OwnedFields(std::string_view owner_pattern) {
  std::vector<const FieldSpec*> out;
  for (const FieldSpec& f : FieldTable()) {
    std::string_view path = f.path;
    std::string_view rest;
    if (owner_pattern.empty()) {
      rest = path;
    } else if (path.size() > owner_pattern.size() + 1 &&
               path.substr(0, owner_pattern.size()) == owner_pattern &&
               path[owner_pattern.size()] == '.') {
      rest = path.substr(owner_pattern.size() + 1);
    } else {
      continue;
    }
    if (!HasNestedOwner(rest)) out.push_back(&f);
  }
  return out;
}

}  // namespace edge::config
