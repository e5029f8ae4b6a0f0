// Checks on single values that the field table refers to, and the "did you mean" suggestion.
// Internal to config/; each returns an empty string when the value is fine, else the reason.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace edge::config {

// [A-Za-z0-9._-]{1,max_length}: agent ids and route names end up in message ids and headers.
std::string CheckName(std::string_view name, int64_t max_length);

// "0660" -> 0660. Three or four octal digits, at most 0777 (no setuid/setgid/sticky bits).
std::string ParseOctalMode(std::string_view text, uint32_t* mode);

// "127.0.0.1:9469", "localhost:9469", "[::1]:9469": a loopback host and a port 1..65535. The
// metrics endpoint has no authentication, so it must not be reachable from the network.
std::string CheckLoopbackListen(std::string_view text);

// Levenshtein distance, for suggestions.
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `key` when it is close enough to be a likely typo, else "".
std::string Suggest(std::string_view key, const std::vector<std::string>& candidates);

// A value as the operator wrote it, short enough for one error line: true, -5, "abc", an object.
// Strings are shown only when show_strings (never for fields near secrets).
std::string Render(const void* cjson_item, bool show_strings);

}  // namespace edge::config
