#include "agent/ring/crc32c.h"

#include <array>
#include <cstring>

#include "port/cpu_features.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif
// aarch64 little-endian: __crc32cd takes the 8 bytes in memory order only there.
#if defined(__aarch64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define EDGE_CRC32C_ARMV8 1
#include <arm_acle.h>
#endif

namespace edge::ring {
namespace {

constexpr uint32_t kPoly = 0x82f63b78;  // CRC32C, reflected

// Slicing-by-8 tables: table[k][b] is the CRC of byte b followed by k zero bytes.
struct Tables {
  std::array<std::array<uint32_t, 256>, 8> t;
  Tables() {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
      for (int k = 1; k < 8; k++) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
    }
  }
};

const Tables& GetTables() {
  static const Tables tables;
  return tables;
}

uint32_t ExtendPortable(uint32_t crc, const uint8_t* p, size_t n) {
  const auto& t = GetTables().t;
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    n--;
  }
  while (n >= 8) {
    uint32_t lo;
    uint32_t hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    lo = __builtin_bswap32(lo);
    hi = __builtin_bswap32(hi);
#endif
    lo ^= crc;
    crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
          t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc, const uint8_t* p, size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

bool HaveInstruction() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}
uint32_t ExtendInstruction(uint32_t crc, const uint8_t* p, size_t n) { return ExtendSse42(crc, p, n); }
#elif defined(EDGE_CRC32C_ARMV8)
// The ARMv8 CRC extension (CRC32CB/CRC32CX), compiled for "+crc" in this function only: the
// rest of the build stays baseline armv8-a, and the path runs only when the kernel says the
// CPU has it (port::CpuHasArmCrc32). Unaligned 8-byte loads are fine on aarch64.
__attribute__((target("+crc"))) uint32_t ExtendArmv8(uint32_t crc, const uint8_t* p, size_t n) {
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    crc = __crc32cd(crc, v);
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = __crc32cb(crc, *p++);
  return crc;
}

bool HaveInstruction() { return port::CpuHasArmCrc32(); }
uint32_t ExtendInstruction(uint32_t crc, const uint8_t* p, size_t n) { return ExtendArmv8(crc, p, n); }
#else
bool HaveInstruction() { return false; }
uint32_t ExtendInstruction(uint32_t crc, const uint8_t* p, size_t n) { return ExtendPortable(crc, p, n); }
#endif

}  // namespace

bool Crc32cInstructionAvailable() { return HaveInstruction(); }

uint32_t Crc32cExtendWith(Crc32cPath path, uint32_t crc, const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (path == Crc32cPath::kInstruction) return ~ExtendInstruction(~crc, p, n);
  return ~ExtendPortable(~crc, p, n);
}

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  if (HaveInstruction()) return ~ExtendInstruction(crc, p, n);
  return ~ExtendPortable(crc, p, n);
}

}  // namespace edge::ring
