// Sizes in the config: an integer number of bytes or "<n><unit>" with binary units, so
// "256MiB" means exactly 256 * 2^20 bytes. Decimal units (MB) are refused rather than guessed:
// the operator should not have to wonder which one the agent meant.
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"

namespace edge::config {
namespace {

struct Unit {
  const char* name;
  int shift;
};
constexpr Unit kUnits[] = {{"B", 0}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};

}  // namespace

bool ParseSize(std::string_view text, uint64_t* bytes, std::string* error) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (n > (UINT64_MAX - digit) / 10) {
      *error = "number too large";
      return false;
    }
    n = n * 10 + digit;
    i++;
  }
  if (i == 0) {
    *error = "expected a number followed by an optional unit (KiB, MiB, GiB)";
    return false;
  }
  if (i < text.size() && text[i] == ' ') i++;  // "256 MiB" reads naturally; allow one space
  std::string_view unit = text.substr(i);
  if (unit.empty()) {
    *bytes = n;
    return true;
  }
  for (const Unit& u : kUnits) {
    if (unit != u.name) continue;
    if (u.shift > 0 && n > (UINT64_MAX >> u.shift)) {
      *error = "number too large";
      return false;
    }
    *bytes = n << u.shift;
    return true;
  }
  *error = "unknown unit " + std::string(unit) + "; use B, KiB, MiB or GiB (powers of 1024)";
  return false;
}

std::string FormatSize(uint64_t bytes) {
  for (int k = 4; k >= 1; k--) {
    const Unit& u = kUnits[k];
    uint64_t unit_bytes = 1ull << u.shift;
    if (bytes != 0 && bytes % unit_bytes == 0) return std::to_string(bytes / unit_bytes) + u.name;
  }
  return std::to_string(bytes) + " bytes";
}

}  // namespace edge::config
