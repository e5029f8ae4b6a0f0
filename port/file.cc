// What every File shares: the fallback gathered write.
#include "port/file.h"

#include <cstring>
#include <vector>

namespace edge::port {

Status File::WriteGatherAt(uint64_t offset, const ConstSlice* slices, size_t count) {
  size_t total = 0;
  for (size_t i = 0; i < count; i++) total += slices[i].n;
  std::vector<uint8_t> joined(total);
  size_t at = 0;
  for (size_t i = 0; i < count; i++) {
    if (slices[i].n > 0) std::memcpy(joined.data() + at, slices[i].data, slices[i].n);
    at += slices[i].n;
  }
  return WriteAt(offset, joined.data(), total);
}

}  // namespace edge::port
