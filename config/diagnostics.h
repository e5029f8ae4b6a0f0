// Diagnostics: the errors and warnings found in one config document, each one line that names
// the file and the field ("config /etc/edge-agent/agent.json: ring.size: ..."). Loading collects
// every problem before failing, so an operator fixes a file in one round, not one per restart.
// Internal to config/.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edge::config {

class Diagnostics {
 public:
  explicit Diagnostics(std::string origin) : origin_(std::move(origin)) {}

  // `path` is the concrete field path ("broker.endpoints[1].port"); "" for the whole document.
  void Error(const std::string& path, const std::string& what) {
    errors_.push_back(Line(path, what));
    failed_paths_.push_back(path);
  }
  void Warning(const std::string& path, const std::string& what) {
    warnings_.push_back(Line(path, what));
  }

  // True when an error was reported at `path` or inside it: cross-field rules skip fields that
  // did not parse, so one mistake is reported once rather than again as its consequences.
  bool Failed(std::string_view path) const {
    for (const std::string& p : failed_paths_) {
      if (p == path) return true;
      if (p.size() > path.size() && p.compare(0, path.size(), path) == 0 &&
          (p[path.size()] == '.' || p[path.size()] == '[')) {
        return true;
      }
    }
    return false;
  }

  const std::vector<std::string>& errors() const { return errors_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  const std::string& origin() const { return origin_; }

 private:
  std::string Line(const std::string& path, const std::string& what) const {
    return "config " + OneLine(origin_) + ": " + (path.empty() ? "" : OneLine(path) + ": ") +
           OneLine(what);
  }

  // Paths and messages echo keys and values from the document, which may hold any byte: control
  // characters are shown escaped, so every problem stays one line (a key with a newline in it
  // cannot start a line that looks like another message, in a terminal or in the journal).
  static std::string OneLine(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
      const unsigned char u = static_cast<unsigned char>(c);
      if (u >= 0x20 && u != 0x7f) {
        out += c;
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\r') {
        out += "\\r";
      } else {
        static const char kHex[] = "0123456789abcdef";
        out += "\\x";
        out += kHex[u >> 4];
        out += kHex[u & 0xf];
      }
    }
    return out;
  }

  std::string origin_;
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
  std::vector<std::string> failed_paths_;
};

}  // namespace edge::config
