// The configuration schema as data: one table of fields drives parsing, defaults, validation,
// `edge-agent check-config` and the reference documentation (`edge-agent config-reference`).
//
// Adding an option is one row in field_table.cc plus the member it fills in config.h; a key that
// is not in the table is an error ("unknown field (did you mean ...?)"), so a typo never passes
// silently (the Fluent Bit way of declaring plugin options).
//
// Paths name where a field sits in the JSON document:
//   "broker.tls.ca_file"          a field of a section
//   "broker.endpoints[].host"     a field of every element of a list of objects
//   "routes.<name>.exchange"      a field of every entry of a map whose keys the operator picks
// Error messages use the concrete path instead ("broker.endpoints[1].host",
// "routes.telemetry.exchange").
//
// Invariants the table keeps (checked by config_test):
// - every default_json parses and passes the field's own rule (defaults are applied by the
//   same code that parses the file, so they cannot drift from it);
// - every field's setter writes a member whose C++ type matches the field type.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace edge::config {

enum class FieldType {
  kSection,     // an object of fixed fields: "ring": {...}
  kObjectList,  // an array of objects: "broker.endpoints": [{...}, ...]
  kObjectMap,   // an object whose keys are names the operator picks: "routes": {"NAME": {...}}
  kString,
  kPath,  // a string that must be an absolute path when not empty
  kName,  // [A-Za-z0-9._-], 1..max characters
  kBool,
  kInt,         // an integer in [min, max]
  kSize,        // bytes: an integer, or a string "256MiB" (KiB, MiB, GiB); in [min, max]
  kOctalMode,   // a file mode as an octal string: "0660"
  kEnum,        // one of `choices`
  kStringList,  // an array of strings (e.g. an argv); at least min entries
  kIntList,     // an array of integers, each in [min, max]
  kListen,      // "HOST:PORT" on a loopback address
};

// One parsed value, handed to a field's setter. Only the member for the field's type is set.
struct Value {
  FieldType type = FieldType::kString;
  std::string text;                // kString, kPath, kName, kEnum, kListen
  bool flag = false;               // kBool
  int64_t number = 0;              // kInt
  uint64_t bytes = 0;              // kSize
  uint32_t mode = 0;               // kOctalMode
  std::vector<std::string> texts;  // kStringList
  std::vector<int64_t> numbers;    // kIntList
};

struct FieldSpec {
  std::string path;
  FieldType type = FieldType::kString;
  // JSON text applied before the file is read ("\"256MiB\"", "5671", "[1000, 5000]");
  // empty: no default (the member keeps its zero value).
  std::string default_json;
  // What the reference shows as the default when default_json cannot say it ("5671 with TLS,
  // 5672 without"); empty: default_json.
  std::string default_doc;
  bool required = false;
  std::string description;
  // Rule: kInt / kSize / kIntList: value bounds. kName / kObjectMap keys: max length in `max`.
  // kString / kPath: min = minimum length (1: must not be empty). kStringList / kObjectList /
  // kObjectMap: at least `min` entries.
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
  std::vector<std::string> choices;  // kEnum
  // Writes a parsed value into the object the field belongs to (AgentConfig, EndpointConfig,
  // publish::QueueSpec, ...). Returns false when the member cannot take the value: a table bug.
  bool (*set)(void* owner, const Value& value) = nullptr;
  // kObjectList / kObjectMap: appends an element to the owner's container (for a map, under
  // `key`) and returns it; the element's fields are then set on it. The pointer stays valid
  // until the next add on the same container.
  void* (*add)(void* owner, const std::string& key) = nullptr;

  // "broker.tls" for "broker.tls.ca_file", "broker.endpoints[]" for "broker.endpoints[].host".
  std::string Parent() const;
  // The last component: "ca_file".
  std::string Key() const;
  // What a value must look like, for errors and docs: "an integer", "one of reject, drop_oldest".
  std::string TypeText() const;
  // The rule beyond the type, for docs: ">= 1", "1..65535", "loopback", "" when none.
  std::string RuleText() const;
};

// A short name for the reference table: "size", "integer", "string array".
const char* ShortTypeName(FieldType type);

// Every field the agent understands, sections before their fields, in documentation order.
const std::vector<FieldSpec>& FieldTable();

// The field at a path pattern ("broker.endpoints[].host"), or nullptr.
const FieldSpec* FindField(std::string_view pattern);

// The fields directly inside a section, list element or map entry pattern ("" = the top level).
std::vector<const FieldSpec*> ChildFields(std::string_view parent_pattern);

// The fields whose defaults are applied when an object at `owner_pattern` is created: the
// fields below it, through sections but not into nested lists or maps. "" = AgentConfig.
std::vector<const FieldSpec*> OwnedFields(std::string_view owner_pattern);

// The table as a Markdown reference (one row per field: path, type, default, required, rule,
// description), for the README and `edge-agent config-reference`. (reference.cc)
std::string FieldReferenceMarkdown();

}  // namespace edge::config
