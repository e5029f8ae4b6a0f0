// CRC32C (Castagnoli), the checksum of every ring record, meta slot and format header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edge::ring {

// Extends crc (0 to start) over n bytes. Uses the CPU's CRC32C instruction when present
// (SSE4.2 on x86-64, the ARMv8 CRC extension on aarch64), chosen once at run time, and a
// slicing-by-8 table otherwise. The build stays at the baseline ISA (x86-64, armv8-a): only
// the instruction path is compiled for the extension.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);
inline uint32_t Crc32c(const void* data, size_t n) { return Crc32cExtend(0, data, n); }

// The implementations behind Crc32cExtend, named so tests can check each against the other
// and against known vectors on every architecture.
enum class Crc32cPath { kTable, kInstruction };
// True when this build has an instruction path for this architecture and the CPU has it.
bool Crc32cInstructionAvailable();
// Crc32cExtend through the given path. REQUIRES: kInstruction only if
// Crc32cInstructionAvailable().
uint32_t Crc32cExtendWith(Crc32cPath path, uint32_t crc, const void* data, size_t n);

}  // namespace edge::ring
