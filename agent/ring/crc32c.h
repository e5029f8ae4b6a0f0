// CRC32C (Castagnoli), the checksum of every ring record, meta slot and format header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edge::ring {

// Extends crc (0 to start) over n bytes. Uses the CPU's CRC32C instruction when present
// (SSE4.2 on x86-64, the ARMv8 CRC extension on aarch64), a table otherwise.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);
inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }

}  // namespace edge::ring
