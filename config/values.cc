#include "config/values.h"

#include <cjson/cJSON.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace edge::config {

std::string CheckName(std::string_view name, int64_t max_length) {
  if (name.empty()) return "must not be empty";
  if (static_cast<int64_t>(name.size()) > max_length) {
    return "is " + std::to_string(name.size()) + " characters long; at most " +
           std::to_string(max_length) + " are allowed";
  }
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return "may contain only letters, digits, '.', '_' and '-'";
  }
  return "";
}

std::string ParseOctalMode(std::string_view text, uint32_t* mode) {
  if (text.size() < 3 || text.size() > 4) return "expected 3 or 4 octal digits like \"0660\"";
  uint32_t m = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return "expected 3 or 4 octal digits like \"0660\"";
    m = m * 8 + static_cast<uint32_t>(c - '0');
  }
  if (m > 0777) return "setuid, setgid and sticky bits are not allowed; use at most 0777";
  *mode = m;
  return "";
}

std::string CheckLoopbackListen(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return "expected HOST:PORT like \"127.0.0.1:9469\" or \"[::1]:9469\"";
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return "expected HOST:PORT like \"127.0.0.1:9469\"";
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return "the port must be a number 1..65535";
  }
  long p = std::stol(std::string(port));
  if (p < 1 || p > 65535) return "the port must be a number 1..65535";
  bool loopback =
      host == "localhost" || host == "::1" || (host.size() > 4 && host.substr(0, 4) == "127.");
  if (!loopback) {
    return "must be a loopback address (127.0.0.1, [::1] or localhost): the metrics endpoint has "
           "no authentication; export to the network through a reverse proxy or textfile_path";
  }
  return "";
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1);
  std::vector<size_t> cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); j++) prev[j] = j;
  for (size_t i = 1; i <= a.size(); i++) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); j++) {
      size_t substitute = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string Suggest(std::string_view key, const std::vector<std::string>& candidates) {
  // Close enough to be a typo: two edits, or a third of the word for long keys.
  size_t limit = std::max<size_t>(2, key.size() / 3);
  std::string best;
  size_t best_distance = limit + 1;
  for (const std::string& c : candidates) {
    size_t d = EditDistance(key, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

std::string Render(const void* cjson_item, bool show_strings) {
  const cJSON* item = static_cast<const cJSON*>(cjson_item);
  if (cJSON_IsTrue(item)) return "true";
  if (cJSON_IsFalse(item)) return "false";
  if (cJSON_IsNull(item)) return "null";
  if (cJSON_IsObject(item)) return "an object";
  if (cJSON_IsArray(item)) return "an array";
  if (cJSON_IsNumber(item)) {
    double d = item->valuedouble;
    // Range first: converting a double outside long long's range (1e999 parses as inf) is
    // undefined behaviour.
    if (d > -9.0e15 && d < 9.0e15 && d == static_cast<double>(static_cast<long long>(d))) {
      return std::to_string(static_cast<long long>(d));  // integers as written: 70000, not 7e+04
    }
    // The shortest form that reads back as the same double: 1.5, not 1.5000000000000000.
    char shorter[32];
    for (int precision = 1; precision <= 17; precision++) {
      (void)std::snprintf(shorter, sizeof(shorter), "%.*g", precision, d);
      if (std::strtod(shorter, nullptr) == d) break;
    }
    return shorter;
  }
  if (cJSON_IsString(item)) {
    if (!show_strings) return "a string";
    std::string s = item->valuestring;
    if (s.size() > 40) s = s.substr(0, 37) + "...";
    return "\"" + s + "\"";
  }
  return "an invalid value";
}

}  // namespace edge::config
