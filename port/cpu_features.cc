#include "port/cpu_features.h"

#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)  // Linux arch/arm64/include/uapi/asm/hwcap.h
#endif
#endif

namespace edge::port {

bool CpuHasArmCrc32() {
#if defined(__aarch64__)
  static const bool have = (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
  return have;
#else
  return false;
#endif
}

}  // namespace edge::port
