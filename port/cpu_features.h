// What the CPU offers beyond the baseline instruction set the build targets, as the kernel
// reports it. Code above port/ asks here instead of reading the auxiliary vector itself.
//
// Thread-safety: every function may be called from any thread.
#pragma once

namespace edge::port {

// True when the CPU has the ARMv8 CRC32/CRC32C instructions (AT_HWCAP's HWCAP_CRC32 on
// aarch64; optional in ARMv8.0, mandatory from ARMv8.1). Always false on other architectures.
bool CpuHasArmCrc32();

}  // namespace edge::port
