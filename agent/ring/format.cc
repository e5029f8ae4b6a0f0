#include "agent/ring/format.h"

#include "agent/ring/crc32c.h"

namespace edge::ring {

bool ChooseGeometry(uint64_t file_bytes, uint64_t segment_bytes_hint, Geometry* out,
                    std::string* error) {
  if (file_bytes < kMinFileBytes) {
    *error = "ring size " + std::to_string(file_bytes) + " bytes is too small (minimum " +
             std::to_string(kMinFileBytes) + ")";
    return false;
  }
  uint64_t data = file_bytes - kDataOffset;
  uint64_t seg = segment_bytes_hint;
  if (seg == 0) {
    seg = data / 4;  // at least four segments: one being written, one being freed, slack
    if (seg > kDefaultMaxSegmentBytes) seg = kDefaultMaxSegmentBytes;
    seg = seg / 4096 * 4096;
  }
  if (seg < kMinSegmentBytes || seg % kBatchAlignBytes != 0) {
    *error = "segment size " + std::to_string(seg) + " must be a multiple of " +
             std::to_string(kBatchAlignBytes) + " and at least " + std::to_string(kMinSegmentBytes);
    return false;
  }
  uint64_t count = data / seg;
  if (count < 3) {
    *error = "ring of " + std::to_string(file_bytes) + " bytes holds only " +
             std::to_string(count) + " segments of " + std::to_string(seg) +
             " bytes; at least 3 are needed";
    return false;
  }
  if (count > UINT32_MAX) {
    *error = "too many segments";
    return false;
  }
  out->file_bytes = file_bytes;
  out->segment_bytes = seg;
  out->segment_count = static_cast<uint32_t>(count);
  return true;
}

void EncodeFormatHeader(const Geometry& g, uint8_t out[kFormatHeaderUsed]) {
  std::memset(out, 0, kFormatHeaderUsed);
  std::memcpy(out, kFormatMagic, 8);
  PutU32(out + 8, kFormatVersion);
  PutU32(out + 12, static_cast<uint32_t>(kBatchAlignBytes));
  PutU64(out + 16, g.file_bytes);
  PutU64(out + 24, kDataOffset);
  PutU64(out + 32, g.segment_bytes);
  PutU32(out + 40, g.segment_count);
  PutU64(out + 48, g.ring_id);
  PutU64(out + 56, g.created_unix_s);
  PutU32(out + 64, Crc32c(out, 64));
}

bool DecodeFormatHeader(const uint8_t in[kFormatHeaderUsed], Geometry* g, std::string* why) {
  if (std::memcmp(in, kFormatMagic, 8) != 0) {
    *why = "no edge-agent ring magic";
    return false;
  }
  if (GetU32(in + 64) != Crc32c(in, 64)) {
    *why = "format header checksum mismatch";
    return false;
  }
  uint32_t version = GetU32(in + 8);
  if (version != kFormatVersion) {
    *why = "format version " + std::to_string(version) + " is not supported (this build reads " +
           std::to_string(kFormatVersion) + ")";
    return false;
  }
  Geometry r;
  r.file_bytes = GetU64(in + 16);
  r.segment_bytes = GetU64(in + 32);
  r.segment_count = GetU32(in + 40);
  r.ring_id = GetU64(in + 48);
  r.created_unix_s = GetU64(in + 56);
  if (GetU32(in + 12) != kBatchAlignBytes || GetU64(in + 24) != kDataOffset ||
      r.segment_bytes < kMinSegmentBytes || r.segment_bytes % kBatchAlignBytes != 0 ||
      r.segment_count < 3 || kDataOffset + r.data_bytes() > r.file_bytes) {
    *why = "format header describes an impossible geometry";
    return false;
  }
  *g = r;
  return true;
}

void EncodeMeta(const Meta& m, uint8_t out[kMetaUsed]) {
  std::memset(out, 0, kMetaUsed);
  PutU32(out, kMetaMagic);
  PutU64(out + 8, m.generation);
  PutU32(out + 16, m.epoch);
  PutU32(out + 20, m.flags);
  PutU64(out + 24, m.head_seq);
  PutU64(out + 32, m.head_offset);
  PutU64(out + 40, m.durable_seq_hint);
  PutU64(out + 48, m.durable_offset_hint);
  PutU64(out + 56, m.dropped_total);
  PutU64(out + 64, m.damaged_total);
  PutU32(out + 72, m.gap_count);
  for (uint32_t i = 0; i < m.gap_count && i < static_cast<uint32_t>(kMaxGaps); i++) {
    PutU64(out + 80 + 16 * i, m.gaps[i].first_seq);
    PutU64(out + 88 + 16 * i, m.gaps[i].last_seq);
  }
  PutU32(out + 4, Crc32c(out + 8, kMetaUsed - 8));
}

bool DecodeMeta(const uint8_t in[kMetaUsed], Meta* m) {
  if (GetU32(in) != kMetaMagic) return false;
  if (GetU32(in + 4) != Crc32c(in + 8, kMetaUsed - 8)) return false;
  Meta r;
  r.generation = GetU64(in + 8);
  r.epoch = GetU32(in + 16);
  r.flags = GetU32(in + 20);
  r.head_seq = GetU64(in + 24);
  r.head_offset = GetU64(in + 32);
  r.durable_seq_hint = GetU64(in + 40);
  r.durable_offset_hint = GetU64(in + 48);
  r.dropped_total = GetU64(in + 56);
  r.damaged_total = GetU64(in + 64);
  r.gap_count = GetU32(in + 72);
  if (r.gap_count > static_cast<uint32_t>(kMaxGaps)) return false;
  for (uint32_t i = 0; i < r.gap_count; i++) {
    r.gaps[i].first_seq = GetU64(in + 80 + 16 * i);
    r.gaps[i].last_seq = GetU64(in + 88 + 16 * i);
  }
  *m = r;
  return true;
}

bool MetaFitsGeometry(const Meta& m, const Geometry& g) {
  if (m.head_seq == 0 || m.head_seq >= kMaxSeq) return false;
  if (m.durable_seq_hint < m.head_seq || m.durable_seq_hint >= kMaxSeq) return false;
  return m.durable_seq_hint - m.head_seq <= g.data_bytes() / kRecordHeaderBytes;
}

void EncodeRecordHeader(const RecordHeader& h, const uint8_t* payload, uint8_t* out) {
  PutU32(out, kRecordMagic);
  PutU32(out + 8, h.length);
  PutU32(out + 12, h.epoch);
  PutU64(out + 16, h.seq);
  PutU32(out + 24, h.batch_index);
  uint32_t crc = Crc32c(out + 8, kRecordHeaderBytes - 8);
  crc = Crc32cExtend(crc, payload, h.length);
  PutU32(out + 4, crc);
}

bool DecodeRecordHeader(const uint8_t* in, RecordHeader* h) {
  if (GetU32(in) != kRecordMagic) return false;
  h->length = GetU32(in + 8);
  h->epoch = GetU32(in + 12);
  h->seq = GetU64(in + 16);
  h->batch_index = GetU32(in + 24);
  return true;
}

bool RecordCrcMatches(const uint8_t* header, const uint8_t* payload, size_t length) {
  uint32_t crc = Crc32c(header + 8, kRecordHeaderBytes - 8);
  crc = Crc32cExtend(crc, payload, length);
  return crc == GetU32(header + 4);
}

}  // namespace edge::ring
