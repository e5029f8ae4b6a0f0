// The table-driven walk over the JSON document. Nothing here knows an option by name: every
// decision comes from the field table (schema.h), so a new option needs no code here.
#include <cjson/cJSON.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>

#include "config/internal.h"
#include "config/schema.h"
#include "config/values.h"

namespace edge::config {
namespace {

// Integers beyond 2^53 do not survive JSON's doubles exactly.
constexpr double kMaxExactDouble = 9007199254740992.0;

std::string Join(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// Values under broker.auth are never echoed back in messages: an operator who pasted a password
// into the wrong field must not find it in the journal.
bool MayEchoStrings(const std::string& path) { return path.rfind("broker.auth", 0) != 0; }

class DocumentParser {
 public:
  explicit DocumentParser(Diagnostics* diag) : diag_(diag) {}

  void ApplyDefaults(const std::string& owner_pattern, void* owner) {
    for (const FieldSpec* f : OwnedFields(owner_pattern)) {
      if (f->default_json.empty() || f->set == nullptr) continue;
      cJSON* item = cJSON_Parse(f->default_json.c_str());
      Value v;
      // A default that fails its own field's rule is a bug in the table; say so plainly.
      if (item == nullptr || !ParseValue(*f, item, f->path + " (default)", &v) ||
          !f->set(owner, v)) {
        diag_->Error(f->path, "internal error: the built-in default " + f->default_json +
                                  " is not valid for this field");
      }
      cJSON_Delete(item);
    }
  }

  // obj: a JSON object at concrete `path`, matching table pattern `pattern`; members are set on
  // `owner`.
  void ParseObject(const cJSON* obj, const std::string& pattern, const std::string& path,
                   void* owner) {
    std::set<std::string> seen;
    for (const cJSON* child = obj->child; child != nullptr; child = child->next) {
      const std::string key = child->string != nullptr ? child->string : "";
      const std::string child_path = Join(path, key);
      if (!seen.insert(key).second) {
        // cJSON keeps both copies of a repeated key; which one "wins" would be a guess.
        diag_->Error(child_path, "appears more than once; keep one");
        continue;
      }
      const FieldSpec* f = FindField(Join(pattern, key));
      if (f == nullptr) {
        UnknownField(pattern, key, child_path);
        continue;
      }
      ParseField(*f, child, child_path, owner);
    }
    for (const FieldSpec* f : ChildFields(pattern)) {
      if (f->required && seen.count(f->Key()) == 0) {
        diag_->Error(Join(path, f->Key()), "missing required field");
      }
    }
  }

 private:
  void UnknownField(const std::string& pattern, const std::string& key, const std::string& path) {
    std::vector<std::string> siblings;
    for (const FieldSpec* f : ChildFields(pattern)) siblings.push_back(f->Key());
    if (Join(pattern, key) == "broker.auth.password") {
      diag_->Error(path,
                   "unknown field: passwords are never written in the config; put it in a "
                   "file only the agent can read (chmod 600) and set "
                   "broker.auth.password_file");
      return;
    }
    std::string suggestion = Suggest(key, siblings);
    std::string what = "unknown field";
    if (!suggestion.empty()) {
      what += " (did you mean " + suggestion + "?)";
    } else if (!siblings.empty()) {
      what += "; known fields here: ";
      for (size_t i = 0; i < siblings.size(); i++) what += (i ? ", " : "") + siblings[i];
    }
    diag_->Error(path, what);
  }

  // Reports a value of the wrong JSON type; returns false so value parsers can return it.
  bool TypeError(const FieldSpec& f, const cJSON* item, const std::string& path) {
    diag_->Error(path, "expected " + f.TypeText() + ", got " + Render(item, MayEchoStrings(path)));
    return false;
  }

  void ParseField(const FieldSpec& f, const cJSON* item, const std::string& path, void* owner) {
    switch (f.type) {
      case FieldType::kSection:
        if (cJSON_IsObject(item)) {
          ParseObject(item, f.path, path, owner);
        } else {
          TypeError(f, item, path);
        }
        return;
      case FieldType::kObjectList:
        return ParseList(f, item, path, owner);
      case FieldType::kObjectMap:
        return ParseMap(f, item, path, owner);
      default:
        break;
    }
    Value v;
    if (!ParseValue(f, item, path, &v)) return;
    if (f.set == nullptr || !f.set(owner, v)) {
      diag_->Error(path, "internal error: the field table cannot store this field");
    }
  }

  void ParseList(const FieldSpec& f, const cJSON* item, const std::string& path, void* owner) {
    if (!cJSON_IsArray(item)) {
      TypeError(f, item, path);
      return;
    }
    int64_t count = cJSON_GetArraySize(item);
    if (count < f.min) {
      diag_->Error(path, "needs at least " + std::to_string(f.min) +
                             (f.min == 1 ? " entry" : " entries") + ", got " +
                             std::to_string(count));
    }
    const std::string element_pattern = f.path + "[]";
    int index = 0;
    for (const cJSON* e = item->child; e != nullptr; e = e->next, index++) {
      const std::string element_path = path + "[" + std::to_string(index) + "]";
      if (!cJSON_IsObject(e)) {
        diag_->Error(element_path, "expected an object, got " + Render(e, MayEchoStrings(path)));
        continue;
      }
      void* element = f.add(owner, "");
      ApplyDefaults(element_pattern, element);
      ParseObject(e, element_pattern, element_path, element);
    }
  }

  void ParseMap(const FieldSpec& f, const cJSON* item, const std::string& path, void* owner) {
    if (!cJSON_IsObject(item)) {
      TypeError(f, item, path);
      return;
    }
    const std::string entry_pattern = f.path + ".<name>";
    std::set<std::string> seen;
    int64_t count = 0;
    for (const cJSON* e = item->child; e != nullptr; e = e->next) {
      const std::string name = e->string != nullptr ? e->string : "";
      const std::string entry_path = Join(path, name);
      count++;
      if (!seen.insert(name).second) {
        diag_->Error(entry_path, "duplicate name: \"" + name + "\" is defined more than once");
        continue;
      }
      std::string why = CheckName(name, f.max);
      if (!why.empty()) {
        diag_->Error(entry_path, "name \"" + name + "\" " + std::move(why));
        continue;
      }
      if (!cJSON_IsObject(e)) {
        diag_->Error(entry_path, "expected an object, got " + Render(e, true));
        continue;
      }
      void* entry = f.add(owner, name);
      ApplyDefaults(entry_pattern, entry);
      ParseObject(e, entry_pattern, entry_path, entry);
    }
    if (count < f.min) {
      diag_->Error(path, "needs at least " + std::to_string(f.min) + " entries");
    }
  }

  // Reads an integral JSON number within the field's bounds, or reports why not.
  bool ParseInteger(const FieldSpec& f, const cJSON* item, const std::string& path, int64_t* out) {
    double d = item->valuedouble;
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > kMaxExactDouble) {
      std::string expected = f.type == FieldType::kIntList ? "an integer" : f.TypeText();
      diag_->Error(path, "expected " + expected + ", got " + Render(item, true));
      return false;
    }
    int64_t n = static_cast<int64_t>(d);
    if (!CheckBounds(f, n, Render(item, true), path)) return false;
    *out = n;
    return true;
  }

  bool CheckBounds(const FieldSpec& f, int64_t n, const std::string& shown,
                   const std::string& path) {
    auto bound = [&f](int64_t b) {
      return f.type == FieldType::kSize && b > 0 ? FormatSize(static_cast<uint64_t>(b))
                                                 : std::to_string(b);
    };
    if (n < 0 && f.min == 0) {
      diag_->Error(path, "must not be negative, got " + shown);
    } else if (n < f.min) {
      diag_->Error(path, "must be at least " + bound(f.min) + ", got " + shown);
    } else if (n > f.max) {
      diag_->Error(path, "must be at most " + bound(f.max) + ", got " + shown);
    } else {
      return true;
    }
    return false;
  }

  bool ParseValue(const FieldSpec& f, const cJSON* item, const std::string& path, Value* v) {
    v->type = f.type;
    switch (f.type) {
      case FieldType::kString:
      case FieldType::kPath:
      case FieldType::kName:
      case FieldType::kEnum:
      case FieldType::kListen:
        if (!cJSON_IsString(item)) return TypeError(f, item, path);
        v->text = item->valuestring;
        return CheckText(f, path, v->text);
      case FieldType::kBool:
        if (!cJSON_IsBool(item)) return TypeError(f, item, path);
        v->flag = cJSON_IsTrue(item);
        return true;
      case FieldType::kInt:
        if (!cJSON_IsNumber(item)) return TypeError(f, item, path);
        return ParseInteger(f, item, path, &v->number);
      case FieldType::kSize:
        return ParseSizeValue(f, item, path, &v->bytes);
      case FieldType::kOctalMode: {
        if (!cJSON_IsString(item)) return TypeError(f, item, path);
        std::string why = ParseOctalMode(item->valuestring, &v->mode);
        if (!why.empty()) diag_->Error(path, why + ", got " + Render(item, true));
        return why.empty();
      }
      case FieldType::kStringList: {
        if (!cJSON_IsArray(item)) return TypeError(f, item, path);
        for (const cJSON* e = item->child; e != nullptr; e = e->next) {
          if (!cJSON_IsString(e)) return TypeError(f, item, path);
          v->texts.emplace_back(e->valuestring);
        }
        if (static_cast<int64_t>(v->texts.size()) < f.min) {
          diag_->Error(path, "needs at least " + std::to_string(f.min) + " entries");
          return false;
        }
        return true;
      }
      case FieldType::kIntList: {
        if (!cJSON_IsArray(item)) return TypeError(f, item, path);
        int index = 0;
        for (const cJSON* e = item->child; e != nullptr; e = e->next, index++) {
          const std::string element_path = path + "[" + std::to_string(index) + "]";
          if (!cJSON_IsNumber(e)) return TypeError(f, item, path);
          int64_t n = 0;
          if (!ParseInteger(f, e, element_path, &n)) return false;
          v->numbers.push_back(n);
        }
        return true;
      }
      case FieldType::kSection:
      case FieldType::kObjectList:
      case FieldType::kObjectMap:
        break;
    }
    diag_->Error(path, "internal error: not a value field");
    return false;
  }

  bool CheckText(const FieldSpec& f, const std::string& path, const std::string& text) {
    std::string why;
    switch (f.type) {
      case FieldType::kName:
        why = CheckName(text, f.max);
        break;
      case FieldType::kEnum: {
        bool known = false;
        for (const std::string& c : f.choices) known = known || c == text;
        if (!known) why = "must be " + f.TypeText();
        break;
      }
      case FieldType::kListen:
        if (!text.empty()) why = CheckLoopbackListen(text);
        break;
      case FieldType::kPath:
        if (!text.empty() && text[0] != '/') {
          why = "must be an absolute path (the agent runs from /)";
        }
        break;
      default:
        break;
    }
    if (why.empty() && f.min > 0 && static_cast<int64_t>(text.size()) < f.min) {
      why = "must not be empty";
    }
    if (why.empty()) return true;
    std::string shown = MayEchoStrings(path) ? "\"" + text + "\"" : "a string";
    if (shown.size() > 60) shown = shown.substr(0, 57) + "...\"";
    diag_->Error(path, why + ", got " + shown);
    return false;
  }

  bool ParseSizeValue(const FieldSpec& f, const cJSON* item, const std::string& path,
                      uint64_t* out) {
    if (cJSON_IsNumber(item)) {
      int64_t n = 0;
      if (!ParseInteger(f, item, path, &n)) return false;
      *out = static_cast<uint64_t>(n);
      return true;
    }
    if (!cJSON_IsString(item)) return TypeError(f, item, path);
    uint64_t bytes = 0;
    std::string why;
    if (!ParseSize(item->valuestring, &bytes, &why)) {
      diag_->Error(path, "expected " + f.TypeText() + ", got " + Render(item, true) + ": " + why);
      return false;
    }
    if (bytes > static_cast<uint64_t>(f.max)) {
      diag_->Error(path, "must be at most " + FormatSize(static_cast<uint64_t>(f.max)) + ", got " +
                             Render(item, true));
      return false;
    }
    if (!CheckBounds(f, static_cast<int64_t>(bytes), Render(item, true), path)) return false;
    *out = bytes;
    return true;
  }

  Diagnostics* diag_;
};

}  // namespace

void ParseDocument(const cJSON* root, AgentConfig* config, Diagnostics* diag) {
  DocumentParser parser(diag);
  parser.ApplyDefaults("", config);
  parser.ParseObject(root, "", "", config);
}

}  // namespace edge::config
