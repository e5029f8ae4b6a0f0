// CRC32C (agent/ring/crc32c.h): the table path and the CPU instruction path (SSE4.2 on x86-64,
// ARMv8 CRC32 on aarch64) agree with published vectors and with a bit-at-a-time reference, for
// every length up to a few hundred bytes at every alignment, and when a CRC is extended in
// pieces. Cross builds run this under qemu, whose default aarch64 CPU has the CRC extension,
// so there the instruction path is required to be present and is always exercised.
#include "agent/ring/crc32c.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "port/cpu_features.h"

namespace edge::ring {
namespace {

// The definition, one bit at a time: reflected polynomial 0x82f63b78, inverted in and out.
uint32_t ReferenceCrc32c(uint32_t crc, const uint8_t* p, size_t n) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
  }
  return ~crc;
}

std::vector<Crc32cPath> PathsHere() {
  std::vector<Crc32cPath> paths = {Crc32cPath::kTable};
  if (Crc32cInstructionAvailable()) paths.push_back(Crc32cPath::kInstruction);
  return paths;
}

const char* Name(Crc32cPath path) { return path == Crc32cPath::kTable ? "table" : "instruction"; }

// Deterministic bytes (no all-zero runs that would hide a wrong table entry).
std::vector<uint8_t> Bytes(size_t n) {
  std::vector<uint8_t> b(n);
  uint32_t x = 0x9e3779b9;
  for (auto& v : b) {
    x = x * 1664525 + 1013904223;
    v = static_cast<uint8_t>(x >> 24);
  }
  return b;
}

TEST(Crc32c, MatchesPublishedVectorsOnEveryPath) {
  // "123456789" is the standard check value; the 32-byte vectors are RFC 3720 appendix B.4.
  const std::string check = "123456789";
  std::vector<uint8_t> zeros(32, 0x00), ones(32, 0xff), up(32), down(32);
  for (int i = 0; i < 32; i++) {
    up[i] = static_cast<uint8_t>(i);
    down[i] = static_cast<uint8_t>(31 - i);
  }
  for (Crc32cPath path : PathsHere()) {
    SCOPED_TRACE(Name(path));
    EXPECT_EQ(Crc32cExtendWith(path, 0, check.data(), check.size()), 0xe3069283u);
    EXPECT_EQ(Crc32cExtendWith(path, 0, zeros.data(), 32), 0x8a9136aau);
    EXPECT_EQ(Crc32cExtendWith(path, 0, ones.data(), 32), 0x62a8ab43u);
    EXPECT_EQ(Crc32cExtendWith(path, 0, up.data(), 32), 0x46dd794eu);
    EXPECT_EQ(Crc32cExtendWith(path, 0, down.data(), 32), 0x113fdb5cu);
    EXPECT_EQ(Crc32cExtendWith(path, 0, check.data(), 0), 0u);
  }
  EXPECT_EQ(Crc32c(check.data(), check.size()), 0xe3069283u);
}

TEST(Crc32c, PathsAgreeWithReferenceForEveryLengthAndAlignment) {
  const std::vector<uint8_t> data = Bytes(600);
  for (size_t offset = 0; offset < 16; offset++) {
    for (size_t len = 0; len + offset <= 300 + 16; len++) {
      const uint8_t* p = data.data() + offset;
      const uint32_t want = ReferenceCrc32c(0, p, len);
      ASSERT_EQ(Crc32cExtendWith(Crc32cPath::kTable, 0, p, len), want)
          << "table, offset " << offset << " length " << len;
      if (Crc32cInstructionAvailable()) {
        ASSERT_EQ(Crc32cExtendWith(Crc32cPath::kInstruction, 0, p, len), want)
            << "instruction, offset " << offset << " length " << len;
      }
      ASSERT_EQ(Crc32c(p, len), want) << "dispatch, offset " << offset << " length " << len;
    }
  }
}

TEST(Crc32c, ExtendingInPiecesEqualsTheWhole) {
  const std::vector<uint8_t> data = Bytes(257);
  const uint32_t whole = ReferenceCrc32c(0, data.data(), data.size());
  for (Crc32cPath path : PathsHere()) {
    for (size_t split = 0; split <= data.size(); split++) {
      uint32_t crc = Crc32cExtendWith(path, 0, data.data(), split);
      crc = Crc32cExtendWith(path, crc, data.data() + split, data.size() - split);
      ASSERT_EQ(crc, whole) << Name(path) << ", split at " << split;
    }
  }
}

TEST(Crc32c, LargeBufferAgreesAcrossPaths) {
  const std::vector<uint8_t> data = Bytes(1 << 20);
  const uint32_t want = ReferenceCrc32c(0, data.data() + 3, data.size() - 3);
  for (Crc32cPath path : PathsHere()) {
    EXPECT_EQ(Crc32cExtendWith(path, 0, data.data() + 3, data.size() - 3), want) << Name(path);
  }
}

TEST(Crc32c, InstructionPathIsUsedWhereTheCpuHasIt) {
#if defined(__aarch64__)
  // The aarch64 path is chosen by the kernel's HWCAP_CRC32 (port/cpu_features.h).
  EXPECT_EQ(Crc32cInstructionAvailable(), port::CpuHasArmCrc32());
  // qemu-aarch64's default CPU ("max") has the CRC extension: under qemu (cross-build ctest
  // sets EDGE_UNDER_QEMU) the instruction path must be found, or this suite proves nothing.
  if (std::getenv("EDGE_UNDER_QEMU") != nullptr) {
    EXPECT_TRUE(Crc32cInstructionAvailable());
  }
#elif defined(__x86_64__)
  EXPECT_EQ(Crc32cInstructionAvailable(), __builtin_cpu_supports("sse4.2") != 0);
  EXPECT_FALSE(port::CpuHasArmCrc32());
#else
  EXPECT_FALSE(Crc32cInstructionAvailable());
  EXPECT_FALSE(port::CpuHasArmCrc32());
#endif
  if (!Crc32cInstructionAvailable()) GTEST_SKIP() << "no CRC32C instruction on this CPU";
}

}  // namespace
}  // namespace edge::ring
