// The golden ring: one deterministic workload whose ring file must come out the same, and read
// back the same, on every architecture the agent ships for (amd64, arm64, armhf).
//
// Why: a gateway's SD card moves between boards, and a package upgrade can switch a board from
// armhf to arm64; the ring left behind must still be read, to the last record. The format is
// encoded byte by byte (agent/ring/format.h), so this should hold by construction; these checks
// prove it on the real compilers, with 32-bit size_t and off_t-sized traps on armhf, and the
// hardware CRC32C path on amd64 against the table path on ARM.
//
// The workload (WriteGoldenRing) runs three boots on a 48 KiB ring of 4 KiB segments under
// drop_oldest: varied record sizes (empty ones, one of the largest size a segment takes,
// records that do not fit the rest of a segment), batches of 1 to 7 records, acknowledgements and
// checkpoints, a wrap that drops unacknowledged segments (gaps in the meta slot), and a last
// batch after the final checkpoint (recovery must find it past the durable hint).
//
// Checked-in images written by each architecture: tests/data/ring/golden-<arch>.ring, made by
// scripts/make-golden-rings.sh. Single-threaded on purpose (RingStore, not Ring): it runs under
// qemu user mode, whose bookworm build hangs creating threads on recent host kernels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/ring/format.h"
#include "agent/ring/ring_store.h"
#include "port/file.h"
#include "port/status.h"

namespace edge::crossarch {

// What an opened ring holds, in the terms a reader relies on.
struct RingState {
  ring::Geometry geometry;  // ring_id and created_unix_s differ per image by design
  uint32_t epoch = 0;
  uint64_t head_seq = 0;
  uint64_t next_seq = 0;
  uint64_t dropped_total = 0;
  uint64_t damaged_total = 0;
  std::vector<ring::Gap> gaps;
  std::string Describe() const;  // one line, for reports and failure messages
};

// The payload the workload gives record seq: its size and bytes depend on seq only.
std::string GoldenPayload(uint64_t seq, uint64_t max_payload_bytes);

// The ring options of the workload.
ring::RingOptions GoldenRingOptions();

// Runs the workload, creating path (which must not exist) on fs.
Status WriteGoldenRing(port::FileSystem* fs, const std::string& path);

// Opens path read-only and checks every record from the head: seq order, payload bytes equal to
// GoldenPayload(seq), no damage. Fills *state. The error names the first record that differs.
Status ReadAndCheckRing(port::FileSystem* fs, const std::string& path, RingState* state);

// The full check of an image written by any architecture: ReadAndCheckRing, the same state as
// the workload replayed here (in memory), and the same bytes as that replay from the meta slots
// to the end of the file (the format header holds the random ring id and the creation time).
Status VerifyGoldenImage(port::FileSystem* fs, const std::string& path, RingState* state);

}  // namespace edge::crossarch
