#include "port/allocator.h"

#include <malloc.h>

#include <cstdlib>

namespace edge::port {
namespace {

constexpr int kArenaMax = 2;
constexpr int kMmapThresholdBytes = 128 << 10;
constexpr int kTrimThresholdBytes = 256 << 10;

// Sets one mallopt parameter unless the environment already chose it.
void Set(int param, int value, const char* env, const char* name, std::string* out) {
  if (std::getenv(env) != nullptr || std::getenv("GLIBC_TUNABLES") != nullptr) {
    *out += std::string(out->empty() ? "" : ", ") + name + " from the environment";
    return;
  }
  bool ok = ::mallopt(param, value) == 1;
  *out += std::string(out->empty() ? "" : ", ") + name + "=" + std::to_string(value) +
          (ok ? "" : " (refused)");
}

}  // namespace

std::string LimitAllocatorFootprint() {
  std::string out;
  Set(M_ARENA_MAX, kArenaMax, "MALLOC_ARENA_MAX", "arena_max", &out);
  Set(M_MMAP_THRESHOLD, kMmapThresholdBytes, "MALLOC_MMAP_THRESHOLD_", "mmap_threshold", &out);
  Set(M_TRIM_THRESHOLD, kTrimThresholdBytes, "MALLOC_TRIM_THRESHOLD_", "trim_threshold", &out);
  return "allocator: " + out;
}

bool ReleaseFreeMemory() { return ::malloc_trim(0) == 1; }

}  // namespace edge::port
