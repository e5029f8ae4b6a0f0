// LoadConfig / ParseConfig: read the file, parse the JSON (reporting the line and column of a
// syntax error), then run the steps in internal.h and gather every problem into one Status.
#include "config/config.h"

#include <cjson/cJSON.h>

#include <memory>
#include <string>

#include "config/diagnostics.h"
#include "config/internal.h"
#include "config/values.h"

namespace edge::config {
namespace {

// A config file is a few KiB; refuse to slurp something that clearly is not one.
constexpr uint64_t kMaxConfigBytes = 1 << 20;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// "line 3, column 14" for a byte offset (both 1-based, columns in bytes).
std::string Position(std::string_view text, size_t offset) {
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset && i < text.size(); i++) {
    if (text[i] == '\n') {
      line++;
      line_start = i + 1;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(offset - line_start + 1);
}

struct SyntaxError {
  size_t offset;
  std::string hint;
};

// The hint for a mistake people make in hand-written JSON, if the character at q is one.
std::string HintAt(std::string_view text, size_t q) {
  char c = text[q];
  if (c == '/' || c == '#') {
    return "JSON has no comments; config/examples/README.md explains the examples instead";
  }
  size_t p = q;
  while (p > 0 && IsSpace(text[p - 1])) p--;
  if ((c == '}' || c == ']') && p > 0 && text[p - 1] == ',') {
    return "a comma before '" + std::string(1, c) + "' is not allowed in JSON";
  }
  if (c == '\'') return "strings and names need double quotes in JSON";
  return "";
}

// Where and why cJSON stopped. cJSON's position is the offending character or, after a failure
// inside a nested value, the one after it; the earlier candidate wins when it explains the error.
SyntaxError Diagnose(std::string_view text, size_t offset) {
  if (offset >= text.size()) {
    return {text.size(), "the document ends too early (a missing '}' or ']'?)"};
  }
  if (offset > 0) {
    std::string hint = HintAt(text, offset - 1);
    if (!hint.empty()) return {offset - 1, hint};
  }
  std::string hint = HintAt(text, offset);
  return {offset, hint.empty() ? "invalid JSON" : hint};
}

}  // namespace

Result<AgentConfig> ParseConfig(std::string_view json, const std::string& origin,
                                port::FileSystem* fs, const LoadOptions& options) {
  Diagnostics diag(origin);
  auto fail = [&diag]() {
    std::string message;
    for (const std::string& line : diag.errors()) message += (message.empty() ? "" : "\n") + line;
    return Status::InvalidArgument(message);
  };
  std::string_view text = json;
  size_t skipped = 0;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") {  // a UTF-8 byte order mark, left by some editors
    text.remove_prefix(3);
    skipped = 3;
  }
  size_t first = 0;
  while (first < text.size() && IsSpace(text[first])) first++;
  if (first == text.size()) {
    diag.Error("", "the file is empty; it must hold a JSON object { ... }");
    return fail();
  }
  const char* end = nullptr;
  std::unique_ptr<cJSON, void (*)(cJSON*)> root(
      cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, false), cJSON_Delete);
  // The error position comes back through `end` (what cJSON_GetErrorPtr would return), so no
  // other cJSON call in between can change it.
  size_t offset =
      end != nullptr && end >= text.data() ? static_cast<size_t>(end - text.data()) : text.size();
  if (root == nullptr) {
    SyntaxError e = Diagnose(text, offset);
    diag.Error("", Position(json, e.offset + skipped) + ": " + e.hint);
    return fail();
  }
  while (offset < text.size() && IsSpace(text[offset])) offset++;
  if (offset < text.size()) {
    diag.Error("", Position(json, offset + skipped) +
                       ": unexpected text after the end of the JSON object (an extra '}'?)");
    return fail();
  }
  if (!cJSON_IsObject(root.get())) {
    diag.Error("", "the document must be a JSON object { ... }, got " + Render(root.get(), false));
    return fail();
  }

  AgentConfig config;
  config.origin = origin;
  ParseDocument(root.get(), &config, &diag);
  ValidateConfig(&config, &diag);
  if (options.check_files) {
    CheckFiles(&config, fs != nullptr ? fs : port::FileSystem::Posix(),
               options.probe != nullptr ? options.probe : FileProbe::Posix(), &diag);
  }
  if (!diag.errors().empty()) return fail();
  config.warnings = diag.warnings();
  return config;
}

Result<AgentConfig> LoadConfig(port::FileSystem* fs, const std::string& path,
                               const LoadOptions& options) {
  const std::string context = "config " + path + ": cannot read";
  Result<std::unique_ptr<port::File>> file = fs->Open(path, port::Access::kReadOnly);
  if (!file.ok()) return file.status().WithContext(context);
  Result<uint64_t> size = (*file)->Size();
  if (!size.ok()) return size.status().WithContext(context);
  if (*size > kMaxConfigBytes) {
    return Status::InvalidArgument("config " + path + ": " + std::to_string(*size) +
                                   " bytes is too large for a config file (at most " +
                                   FormatSize(kMaxConfigBytes) + ")");
  }
  std::string text(*size, '\0');
  if (*size > 0) {
    Status s = (*file)->ReadAt(0, text.data(), text.size());
    if (!s.ok()) return s.WithContext(context);
  }
  return ParseConfig(text, path, fs, options);
}

}  // namespace edge::config
