// The ring's on-disk format. Everything that defines bytes on disk lives here.
//
// One preallocated, zero-filled file of fixed size; all integers little-endian, encoded byte by
// byte (never by casting structs), so a ring written on amd64 reads the same on arm64 or armhf.
//
//   offset 0      +-------------------------------+
//                 | format header, copy A (4 KiB) |  immutable after creation
//   4096          | format header, copy B (4 KiB) |
//   8192          | meta slot 0          (4 KiB)  |  alternating, CRC-protected;
//   12288         | meta slot 1          (4 KiB)  |  the valid one with the highest generation wins
//   16384 = kDataOffset
//                 | segment 0 | segment 1 | ... | segment N-1 |   (segment_bytes each)
//   file_bytes    +-------------------------------+
//
// Format header (kFormatHeaderUsed bytes used of each 4 KiB copy):
//    0  8  magic "EDGERING"
//    8  4  format version (kFormatVersion)
//   12  4  batch alignment in bytes (kBatchAlignBytes)
//   16  8  file bytes
//   24  8  data offset (kDataOffset)
//   32  8  segment bytes
//   40  4  segment count
//   44  4  reserved, zero
//   48  8  ring id (random at creation; names the ring in reports)
//   56  8  creation time, Unix seconds
//   64  4  CRC32C of bytes [0, 64)
//
// Meta slot (kMetaUsed bytes used of each 4 KiB slot):
//    0  4  magic kMetaMagic
//    4  4  CRC32C of bytes [8, kMetaUsed)
//    8  8  generation: +1 per meta write; the valid slot with the highest generation wins
//   16  4  boot epoch: +1 at every open; records written in this boot carry it
//   20  4  flags (kMetaFlagGapsApproximate)
//   24  8  head seq: the oldest record not yet acknowledged (or the next seq if none)
//   32  8  head offset: file offset where the head record is, or will be written
//   40  8  durable seq hint: every record with a smaller seq was durable when the slot was written
//   48  8  durable offset hint: the write position that went with the durable seq hint
//   56  8  dropped total: records ever dropped under drop_oldest
//   64  8  damaged total: damaged records the head has passed (acknowledged past or dropped);
//          damage still ahead of the head is found again by each recovery and counted then
//   72  4  gap count (<= kMaxGaps): dropped seq ranges not yet reported upstream
//   76  4  reserved, zero
//   80  16*kMaxGaps  gaps: {first seq u64, last seq u64}
//
// Record (a header of kRecordHeaderBytes followed by the payload, no alignment):
//    0  4  magic kRecordMagic
//    4  4  CRC32C of bytes [8, kRecordHeaderBytes + length)
//    8  4  length: payload bytes
//   12  4  epoch: the boot epoch of the writer
//   16  8  seq: the ring's sequence number, +1 per record, never reused
//   24  4  batch index: position in its write batch; 0 = first record of a batch
//
// Placement invariants (recovery relies on every one of them):
// - Records never straddle a segment end: recovery can then scan each segment on its own, and a
//   record that does not fit moves to the start of the next segment.
// - Every batch starts at a kBatchAlignBytes boundary and is zero-padded to one, so a new batch
//   never shares a sector with durable data: a torn write can only damage its own batch.
// - Consecutive records have consecutive seqs and non-decreasing epochs. Stale bytes from an
//   earlier lap carry smaller seqs; leftovers of a crashed boot carry an older epoch; either one
//   ends the scan.
// - A batch is written only after the previous batch's fdatasync succeeded, so only the last
//   batch can be torn; a valid batch start (batch index 0) with a higher seq after a bad record
//   proves the bad record was durable, i.e. damage, not a torn tail.
// - The records from the head span less than the data area: the tail never enters the head's
//   segment. A chain from the meta head that runs further (a slot that passed its CRC but does
//   not match the records) is cut at its start, not its end: the head's offset moves to a later
//   batch start and the seqs before it are reported as damage (RingStore's recovery).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

namespace edge::ring {

constexpr char kFormatMagic[8] = {'E', 'D', 'G', 'E', 'R', 'I', 'N', 'G'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint64_t kFormatCopyBytes = 4096;
constexpr uint64_t kFormatHeaderUsed = 68;
constexpr uint64_t kMetaSlotOffset = 2 * kFormatCopyBytes;
constexpr uint64_t kMetaSlotBytes = 4096;
constexpr int kMetaSlotCount = 2;
constexpr uint64_t kDataOffset = kMetaSlotOffset + kMetaSlotCount * kMetaSlotBytes;  // 16384
constexpr uint32_t kMetaMagic = 0x4154454d;    // "META" little-endian
constexpr uint32_t kRecordMagic = 0x43455245;  // "EREC" little-endian
constexpr uint32_t kMetaFlagGapsApproximate = 1u << 0;
constexpr int kMaxGaps = 16;
constexpr uint64_t kMetaUsed = 80 + 16 * kMaxGaps;
constexpr uint64_t kRecordHeaderBytes = 28;
constexpr uint64_t kBatchAlignBytes = 512;  // one sector: the unit a torn write can damage
constexpr uint64_t kMinFileBytes = kDataOffset + 4 * 4096;  // tests use tiny rings
constexpr uint64_t kMinSegmentBytes = 4096;
constexpr uint64_t kDefaultMaxSegmentBytes = 4ull << 20;  // an SD card allocation unit

// The layout above, checked at compile time on every architecture (the same bytes must come out
// on amd64, arm64 and 32-bit armhf: tests/crossarch). Fields are encoded one byte at a time, so no
// struct's size, padding or alignment ever reaches the disk; what must hold is the arithmetic.
static_assert(sizeof(kFormatMagic) == 8, "format magic is 8 bytes");
static_assert(kFormatHeaderUsed == 64 + 4, "format header: 64 bytes of fields, then their CRC");
static_assert(kFormatHeaderUsed <= kFormatCopyBytes, "format header fits its copy");
static_assert(kDataOffset == 16384, "data starts after 2 header copies and 2 meta slots");
static_assert(kMetaUsed == 80 + 16 * kMaxGaps && kMetaUsed <= kMetaSlotBytes,
              "meta slot: 80 bytes of fields and the gap table fit one slot");
static_assert(kRecordHeaderBytes == 4 + 4 + 4 + 4 + 8 + 4, "record header: 28 bytes, no padding");
static_assert(kDataOffset % kBatchAlignBytes == 0 && kMinSegmentBytes % kBatchAlignBytes == 0,
              "segments start on batch (sector) boundaries");
static_assert(sizeof(uint64_t) == 8 && sizeof(uint32_t) == 4, "fixed-width fields");

inline void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
inline uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

// The fixed geometry, stored in the format header.
struct Geometry {
  uint64_t file_bytes = 0;
  uint64_t segment_bytes = 0;
  uint32_t segment_count = 0;
  uint64_t ring_id = 0;
  uint64_t created_unix_s = 0;

  uint64_t data_bytes() const { return segment_bytes * segment_count; }
  uint64_t SegmentStart(uint32_t seg) const { return kDataOffset + seg * segment_bytes; }
  uint64_t SegmentEnd(uint32_t seg) const { return SegmentStart(seg) + segment_bytes; }
  // The segment a position belongs to; a position on a boundary belongs to the later segment,
  // and the end of the file wraps to segment 0.
  uint32_t SegmentOf(uint64_t offset) const {
    return static_cast<uint32_t>(((offset - kDataOffset) / segment_bytes) % segment_count);
  }
  // The largest payload a record can carry.
  uint64_t max_payload_bytes() const { return segment_bytes - kRecordHeaderBytes; }
};

// Picks the geometry for a new ring of file_bytes: segments of at most
// max_segment_bytes (4 MiB by default), at least 4 of them, multiples of 4 KiB.
// segment_bytes_hint > 0 forces a segment size (tests, or rings of very large records).
bool ChooseGeometry(uint64_t file_bytes, uint64_t segment_bytes_hint, Geometry* out,
                    std::string* error);

void EncodeFormatHeader(const Geometry& g, uint8_t out[kFormatHeaderUsed]);
// False when the copy fails its magic, version or CRC check, or describes an impossible shape.
bool DecodeFormatHeader(const uint8_t in[kFormatHeaderUsed], Geometry* g, std::string* why);

struct Gap {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
};

struct Meta {
  uint64_t generation = 0;
  uint32_t epoch = 0;
  uint32_t flags = 0;
  uint64_t head_seq = 1;
  uint64_t head_offset = kDataOffset;
  uint64_t durable_seq_hint = 1;  // next seq after the last record known durable
  uint64_t durable_offset_hint = kDataOffset;
  uint64_t dropped_total = 0;
  uint64_t damaged_total = 0;
  uint32_t gap_count = 0;
  Gap gaps[kMaxGaps];
};

void EncodeMeta(const Meta& m, uint8_t out[kMetaUsed]);
bool DecodeMeta(const uint8_t in[kMetaUsed], Meta* m);

// Seqs stay below this, so seq arithmetic (next seq, hint - head) never overflows; at a million
// records a second it takes 146,000 years to reach.
constexpr uint64_t kMaxSeq = 1ull << 62;
// False when a slot that passed its CRC still describes a state no writer produces: a head seq
// of 0 or at kMaxSeq, a durable hint below the head, or more records between head and hint than
// the data area can hold (every record takes at least kRecordHeaderBytes). Recovery treats such
// a slot as damaged: trusting it would overflow seqs or report billions of records lost.
bool MetaFitsGeometry(const Meta& m, const Geometry& g);

struct RecordHeader {
  uint32_t length = 0;
  uint32_t epoch = 0;
  uint64_t seq = 0;
  uint32_t batch_index = 0;
};

// File offsets, sizes and seqs are 64-bit in memory too, never size_t or long: those are 32 bits
// on armhf, and a 3 GiB ring or a seq past 2^32 must not wrap there.
static_assert(std::is_same_v<decltype(Geometry::file_bytes), uint64_t> &&
                  std::is_same_v<decltype(Geometry::segment_bytes), uint64_t> &&
                  std::is_same_v<decltype(Geometry::created_unix_s), uint64_t>,
              "geometry is 64-bit on every architecture");
static_assert(std::is_same_v<decltype(Meta::head_offset), uint64_t> &&
                  std::is_same_v<decltype(Meta::head_seq), uint64_t> &&
                  std::is_same_v<decltype(RecordHeader::seq), uint64_t>,
              "positions and seqs are 64-bit on every architecture");

// Writes the header for payload into out[0, kRecordHeaderBytes) including the CRC.
void EncodeRecordHeader(const RecordHeader& h, const uint8_t* payload, uint8_t* out);
// Checks magic and decodes; the CRC is checked by RecordCrcMatches once the payload is read.
bool DecodeRecordHeader(const uint8_t* in, RecordHeader* h);
bool RecordCrcMatches(const uint8_t* header, const uint8_t* payload, size_t length);

inline uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

}  // namespace edge::ring
