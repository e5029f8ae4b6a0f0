// RingStore: creation, recovery, group-commit appends, reads, acknowledgements, checkpoints.
//
// The durability argument, step by step (format.h holds the layout and placement invariants):
// 1. Creation writes zeros, both format headers and meta slot 0 into "<path>.creating", syncs
//    it, renames it to <path> and syncs the directory. A crash before the rename leaves only the
//    temp file (removed and redone at the next start); after it, the whole file is durable.
// 2. Open recovers from the newest valid meta slot, then writes a meta slot with a new epoch
//    and syncs it before any append, so every record of this boot carries an epoch that no
//    crashed boot ever wrote with.
// 3. AppendBatch writes each batch at a sector boundary, padded to the next one, then syncs.
//    Only after the sync returned OK are the seqs reported and readable. A crash before that
//    leaves at most a torn last batch, which recovery cuts.
// 4. Acknowledge moves the head in memory only. A segment is rewritten only when no
//    unacknowledged record is in it AND the durable meta head is not in it: if the meta head is
//    there, a meta slot with the newer head is written and synced first. So recovery always
//    starts from a head whose records are still on disk.
// 5. Meta slots alternate; a torn meta write damages only the slot being written, and the
//    other one (older, valid) wins. After a failed meta write the next write goes to the same
//    slot again, so the last good slot is never the one being overwritten.
#include "agent/ring/ring_store.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>

#include "agent/ring/crc32c.h"

namespace edge::ring {

struct RingStore::ScanResult {
  uint64_t next_seq = 0;     // seq after the last good record
  uint64_t end_offset = 0;   // byte after the last good record (or the start offset)
  // Where the start record really is (after padding or at the next segment start), when the
  // scan found it; the start offset otherwise.
  uint64_t start_found_offset = 0;
  uint32_t last_seg = 0;     // segment of the last good record (or of the start)
  uint32_t last_epoch = 0;
  // The epoch floor where the scan stopped: the highest epoch of the records it walked (and of
  // the batch it resumed at after damage). A record appended there must carry at least this.
  uint32_t epoch_floor = 0;
  bool any = false;
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t travelled = 0;  // bytes from the start to the end of the chain, damage included
  bool torn_tail = false;
  uint64_t torn_tail_offset = 0;
  std::vector<Damage> damage;
  // (segment, first record seen in it): at the segment's start, unless recovery found that
  // record damaged and resumed further in.
  std::vector<std::pair<uint32_t, Position>> seg_first;
  // The walk stopped because the chain came a whole lap round (RecoverFromMetaHeadLocked).
  bool lapped = false;
  // The first batch start (batch index 0, or where the walk resumed after damage) in each
  // segment, in chain order, with how far along the chain it lies. Resync from any offset at or
  // just before one finds it again, so a scan can be restarted there (RecoverFromMetaHeadLocked).
  struct Anchor {
    Position at;
    uint64_t travelled;
  };
  std::vector<Anchor> anchors;
};

namespace {

// Zero-fill in chunks of this size at creation.
constexpr size_t kZeroChunkBytes = 1 << 20;
// Resync reads this much at a time when looking for the next batch start.
constexpr size_t kResyncChunkBytes = 64 << 10;

std::string Plural(uint64_t n, const char* one) {
  return std::to_string(n) + " " + one + (n == 1 ? "" : "s");
}

}  // namespace

std::string RecoveryReport::Summary() const {
  std::string s = created ? "created a new ring; " : "";
  s += "epoch " + std::to_string(epoch) + ", " + Plural(records, "unacknowledged record") +
       " (seq " + std::to_string(head.seq) + ".." + std::to_string(next_seq) + ")";
  if (meta_rebuilt) {
    s += "; BOTH META SLOTS DAMAGED: head rebuilt from the oldest record on disk (records "
         "acknowledged before may be sent again; drop and damage counters restart at 0)";
  }
  if (torn_tail) s += ", torn tail cut at offset " + std::to_string(torn_tail_offset);
  for (const Damage& d : damage) {
    s += "; DAMAGE: seqs " + std::to_string(d.first_seq) + ".." + std::to_string(d.last_seq) +
         " at offset " + std::to_string(d.offset) + " lost (" + d.what + ")";
  }
  return s;
}

RingStore::RingStore(std::string path, bool read_only)
    : path_(std::move(path)), read_only_(read_only) {}

RingStore::~RingStore() = default;

Status RingStore::CreateFile(port::FileSystem* fs, const std::string& path,
                             const RingOptions& options) {
  Geometry geo;
  std::string why;
  if (!ChooseGeometry(options.file_bytes, options.segment_bytes, &geo, &why)) {
    return Status::InvalidArgument("ring " + path + ": " + why);
  }
  std::random_device rd;
  geo.ring_id = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  geo.created_unix_s =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());

  const std::string tmp = path + ".creating";
  auto fail = [&](const Status& s) {
    (void)fs->Remove(tmp);
    std::string hint =
        s.code() == Code::kNoSpace ? "; free some space or configure a smaller ring size" : "";
    return Status(s.code(), "ring " + path + ": cannot create a ring of " +
                                std::to_string(options.file_bytes) + " bytes: " + s.message() +
                                hint);
  };
  EDGE_RETURN_IF_ERROR(fs->Remove(tmp));
  auto created = fs->Create(tmp);
  if (!created.ok()) return fail(created.status());
  std::unique_ptr<port::File> file = std::move(created).value();

  // Zero-fill the whole file: no unwritten extents (their first write costs a journal commit),
  // a full disk shows up now rather than at the first append, and recovery reads zeros, never
  // old file contents, where nothing was written yet.
  std::vector<uint8_t> zeros(kZeroChunkBytes, 0);
  for (uint64_t off = 0; off < geo.file_bytes; off += kZeroChunkBytes) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kZeroChunkBytes, geo.file_bytes - off));
    Status s = file->WriteAt(off, zeros.data(), n);
    if (!s.ok()) return fail(s);
  }
  uint8_t header[kFormatHeaderUsed];
  EncodeFormatHeader(geo, header);
  for (uint64_t copy = 0; copy < 2; copy++) {
    Status s = file->WriteAt(copy * kFormatCopyBytes, header, sizeof(header));
    if (!s.ok()) return fail(s);
  }
  Meta meta;
  meta.generation = 1;
  uint8_t slot[kMetaUsed];
  EncodeMeta(meta, slot);
  Status s = file->WriteAt(kMetaSlotOffset, slot, sizeof(slot));
  if (s.ok()) s = file->Sync();
  if (!s.ok()) return fail(s);
  file.reset();
  s = fs->Rename(tmp, path);
  if (s.ok()) s = fs->SyncDir(port::DirName(path));
  if (!s.ok()) return fail(s);
  return Status::Ok();
}

Result<std::unique_ptr<RingStore>> RingStore::Open(port::FileSystem* fs, const std::string& path,
                                                   const RingOptions& options) {
  std::unique_ptr<RingStore> store(new RingStore(path, /*read_only=*/false));
  store->options_ = options;
  auto lock = fs->Lock(path + ".lock");
  if (!lock.ok()) return lock.status().WithContext("ring " + path);
  store->lock_ = std::move(lock).value();

  bool created = false;
  if (!fs->Exists(path)) {
    EDGE_RETURN_IF_ERROR(CreateFile(fs, path, options));
    created = true;
  }
  auto file = fs->Open(path, port::Access::kReadWrite);
  if (!file.ok()) return file.status().WithContext("ring " + path);
  store->file_ = std::move(file).value();
  EDGE_RETURN_IF_ERROR(store->LoadHeaderAndMeta());
  if (store->geo_.file_bytes != options.file_bytes) {
    return Status::InvalidArgument(
        "ring " + path + ": the file holds a ring of " + std::to_string(store->geo_.file_bytes) +
        " bytes but the configuration asks for " + std::to_string(options.file_bytes) +
        "; a ring's size is fixed at creation (move the old file away once it is drained, or "
        "configure its size)");
  }
  if (store->options_.max_batch_bytes > store->geo_.segment_bytes) {
    store->options_.max_batch_bytes = store->geo_.segment_bytes;
  }
  store->report_.created = created;

  std::lock_guard<std::mutex> l(store->mu_);
  store->RecoverFromMetaHeadLocked();
  Status s = store->StartEpochLocked();
  if (!s.ok()) {
    return s.WithContext("ring " + path + ": cannot start a new boot epoch (meta slot write)");
  }
  store->report_.epoch = store->meta_.epoch;
  return store;
}

Result<std::unique_ptr<RingStore>> RingStore::OpenReadOnly(port::FileSystem* fs,
                                                           const std::string& path) {
  std::unique_ptr<RingStore> store(new RingStore(path, /*read_only=*/true));
  auto file = fs->Open(path, port::Access::kReadOnly);
  if (!file.ok()) return file.status().WithContext("ring " + path);
  store->file_ = std::move(file).value();
  EDGE_RETURN_IF_ERROR(store->LoadHeaderAndMeta());
  store->options_.file_bytes = store->geo_.file_bytes;
  std::lock_guard<std::mutex> l(store->mu_);
  store->RecoverFromMetaHeadLocked();
  store->report_.epoch = store->meta_.epoch;
  return store;
}

Status RingStore::LoadHeaderAndMeta() {
  std::string why[2];
  bool have_geo = false;
  for (int copy = 0; copy < 2 && !have_geo; copy++) {
    uint8_t header[kFormatHeaderUsed];
    Status s = file_->ReadAt(copy * kFormatCopyBytes, header, sizeof(header));
    if (!s.ok()) {
      why[copy] = s.message();
      continue;
    }
    have_geo = DecodeFormatHeader(header, &geo_, &why[copy]);
  }
  if (!have_geo) {
    return Status::Corruption("ring " + path_ +
                              ": not an edge-agent ring, or both format headers are damaged "
                              "(copy A: " +
                              why[0] + "; copy B: " + why[1] + ")");
  }
  auto size = file_->Size();
  if (!size.ok()) return size.status().WithContext("ring " + path_);
  if (*size < geo_.file_bytes) {
    return Status::Corruption("ring " + path_ + ": file is " + std::to_string(*size) +
                              " bytes but its header says " + std::to_string(geo_.file_bytes) +
                              " (truncated?)");
  }
  Meta best;
  int best_slot = -1;
  for (int slot = 0; slot < kMetaSlotCount; slot++) {
    uint8_t buf[kMetaUsed];
    if (!file_->ReadAt(kMetaSlotOffset + slot * kMetaSlotBytes, buf, sizeof(buf)).ok()) continue;
    Meta m;
    if (!DecodeMeta(buf, &m) || !MetaFitsGeometry(m, geo_)) continue;
    if (best_slot < 0 || m.generation > best.generation) {
      best = m;
      best_slot = slot;
    }
  }
  seg_first_.assign(geo_.segment_count, Position{});
  if (best_slot < 0) {
    RebuildMetaFromRecords();
    return Status::Ok();
  }
  meta_ = best;
  meta_next_slot_ = (best_slot + 1) % kMetaSlotCount;
  report_.meta_slot = best_slot;
  gaps_.assign(best.gaps, best.gaps + best.gap_count);
  gaps_approximate_ = (best.flags & kMetaFlagGapsApproximate) != 0;
  stats_.dropped_total = best.dropped_total;
  stats_.damaged_total = best.damaged_total;
  return Status::Ok();
}

// Both meta slots damaged. The writer fills segments in order and every segment it entered
// starts with a record, so the valid records at segment starts tell the story: the one with the
// lowest seq opens the oldest segment still on disk. Starting there is conservative: nothing
// unacknowledged is skipped, acknowledged records in that range are sent again (at-least-once
// allows duplicates, never losses). The newest segment start proves everything before it was
// durable (a later segment was entered), so it is the durable hint: damage before it is reported
// as damage, not cut as a torn tail. The epoch starts from the highest valid record's (recovery
// raises it to the chain's highest, and StartEpochLocked adds one).
void RingStore::RebuildMetaFromRecords() {
  // Valid records at segment starts, with seqs a writer can have given out.
  std::vector<std::pair<uint64_t, uint64_t>> starts;  // (seq, offset)
  uint32_t epoch = 0;
  for (uint32_t seg = 0; seg < geo_.segment_count; seg++) {
    uint64_t at = geo_.SegmentStart(seg);
    uint8_t hdr[kRecordHeaderBytes];
    if (!file_->ReadAt(at, hdr, sizeof(hdr)).ok()) continue;
    RecordHeader loose;
    if (!DecodeRecordHeader(hdr, &loose) || loose.seq == 0 || loose.seq >= kMaxSeq) continue;
    RecordHeader h;
    if (!ValidRecordAt(at, loose.seq, 0, &h, nullptr, nullptr)) continue;
    starts.emplace_back(h.seq, at);
    epoch = std::max(epoch, h.epoch);
  }
  Meta m;
  m.generation = 1;
  m.epoch = epoch;
  if (!starts.empty()) {
    std::sort(starts.begin(), starts.end());
    // The newest segment start anchors the ring; the head is the oldest start the ring can
    // still hold together with it (anything further back is not from this lap: an edited or
    // rotten header), so the rebuilt meta is one MetaFitsGeometry accepts.
    const auto newest = starts.back();
    const uint64_t reach = geo_.data_bytes() / kRecordHeaderBytes;
    auto oldest = std::find_if(starts.begin(), starts.end(), [&](const auto& st) {
      return newest.first - st.first <= reach;
    });
    m.head_seq = oldest->first;
    m.head_offset = oldest->second;
    m.durable_seq_hint = newest.first;
    m.durable_offset_hint = newest.second;
  }
  // The gap list is gone; say so rather than report none.
  m.flags = kMetaFlagGapsApproximate;
  meta_ = m;
  meta_next_slot_ = 0;
  report_.meta_slot = -1;
  report_.meta_rebuilt = true;
  gaps_.clear();
  gaps_approximate_ = true;
}

uint64_t RingStore::Normalize(uint64_t offset) const {
  uint64_t data_end = kDataOffset + geo_.data_bytes();
  if (offset < kDataOffset || offset >= data_end) return kDataOffset;
  return offset;
}

uint64_t RingStore::DistanceFrom(uint64_t from, uint64_t to) const {
  uint64_t d = geo_.data_bytes();
  return (Normalize(to) + d - Normalize(from)) % d;
}

bool RingStore::Fetch(uint64_t off, size_t n, ReadBuffer* rb, std::vector<uint8_t>* scratch,
                      const uint8_t** p) const {
  const uint64_t generation = reload_generation_.load(std::memory_order_acquire);
  if (rb != nullptr && rb->generation != generation) rb->data.clear();
  if (rb != nullptr && off >= rb->offset && off + n <= rb->offset + rb->data.size()) {
    *p = rb->data.data() + (off - rb->offset);
    return true;
  }
  if (rb != nullptr && n <= kReadAheadBytes) {
    uint64_t len = std::min<uint64_t>(kReadAheadBytes, geo_.SegmentEnd(geo_.SegmentOf(off)) - off);
    len = std::max<uint64_t>(len, n);
    rb->data.resize(len);
    rb->offset = off;
    rb->generation = generation;
    if (!file_->ReadAt(off, rb->data.data(), len).ok()) {
      rb->data.clear();
      return false;
    }
    *p = rb->data.data();
    return true;
  }
  scratch->resize(n);
  if (n > 0 && !file_->ReadAt(off, scratch->data(), n).ok()) return false;
  *p = scratch->data();
  return true;
}

bool RingStore::ValidRecordAt(uint64_t offset, uint64_t expected_seq, uint32_t min_epoch,
                              RecordHeader* h, std::string* payload, ReadBuffer* rb) const {
  offset = Normalize(offset);
  uint32_t seg = geo_.SegmentOf(offset);
  if (offset + kRecordHeaderBytes > geo_.SegmentEnd(seg)) return false;
  std::vector<uint8_t> scratch;
  const uint8_t* hp;
  if (!Fetch(offset, kRecordHeaderBytes, rb, &scratch, &hp)) return false;
  uint8_t hdr[kRecordHeaderBytes];
  std::memcpy(hdr, hp, sizeof(hdr));
  RecordHeader r;
  if (!DecodeRecordHeader(hdr, &r)) return false;
  if (r.seq != expected_seq || r.epoch < min_epoch) return false;
  if (offset + kRecordHeaderBytes + r.length > geo_.SegmentEnd(seg)) return false;
  const uint8_t* pp;
  if (!Fetch(offset + kRecordHeaderBytes, r.length, rb, &scratch, &pp)) return false;
  if (!RecordCrcMatches(hdr, pp, r.length)) return false;
  *h = r;
  if (payload != nullptr) payload->assign(reinterpret_cast<const char*>(pp), r.length);
  return true;
}

bool RingStore::Locate(uint64_t offset, uint64_t expected_seq, uint32_t min_epoch,
                       uint64_t* found_offset, RecordHeader* h, std::string* payload,
                       ReadBuffer* rb) const {
  // Where the writer can have put the next record: right after the previous one (same batch),
  // at the next batch boundary (after padding), or at the start of the next segment (it did
  // not fit). Each candidate must hold exactly the expected seq, so stale bytes never match.
  uint64_t p = Normalize(offset);
  uint64_t a = Normalize(AlignUp(p, kBatchAlignBytes));
  uint64_t n = geo_.SegmentStart((geo_.SegmentOf(p) + 1) % geo_.segment_count);
  const uint64_t candidates[3] = {p, a, n};
  for (int attempt = 0; attempt < 2; attempt++) {
    for (int i = 0; i < 3; i++) {
      if (i > 0 && candidates[i] == candidates[i - 1]) continue;
      if (ValidRecordAt(candidates[i], expected_seq, min_epoch, h, payload, rb)) {
        *found_offset = candidates[i];
        return true;
      }
    }
    // The read-ahead may hold bytes from before the record was written: re-read once.
    if (rb == nullptr || rb->data.empty()) break;
    rb->data.clear();
  }
  return false;
}

bool RingStore::Resync(uint64_t from, uint64_t expected_seq, uint32_t min_epoch,
                       uint64_t limit_bytes, uint64_t* found_offset, RecordHeader* h) const {
  // Only batch starts count: a batch is written after the previous batch's sync succeeded, so
  // a later batch start proves the bad record before it had been durable (damage), while
  // records of the same batch as the bad one may be the remains of a torn, never-durable batch.
  std::vector<uint8_t> chunk(kResyncChunkBytes);
  uint64_t q = Normalize(AlignUp(Normalize(from), kBatchAlignBytes));
  uint64_t travelled = 0;
  while (travelled < limit_bytes) {
    uint32_t seg = geo_.SegmentOf(q);
    uint64_t n = std::min<uint64_t>(kResyncChunkBytes, geo_.SegmentEnd(seg) - q);
    if (!file_->ReadAt(q, chunk.data(), n).ok()) return false;
    for (uint64_t i = 0; i + kRecordHeaderBytes <= n; i += kBatchAlignBytes) {
      RecordHeader r;
      if (!DecodeRecordHeader(chunk.data() + i, &r)) continue;
      if (r.batch_index != 0 || r.seq <= expected_seq || r.epoch < min_epoch) continue;
      // The seqs skipped over must have fit in the ring: a larger jump is not a batch this
      // ring wrote (and would run seqs towards overflow).
      if (r.seq - expected_seq > geo_.data_bytes() / kRecordHeaderBytes) continue;
      RecordHeader full;
      if (ValidRecordAt(q + i, r.seq, min_epoch, &full, nullptr, nullptr)) {
        *found_offset = q + i;
        *h = full;
        return true;
      }
    }
    travelled += n;
    q = Normalize(q + n);
  }
  return false;
}

void RingStore::Scan(const Position& start, uint64_t durable_seq_hint, uint64_t durable_offset_hint,
                     ScanResult* out) const {
  *out = ScanResult();
  uint64_t expected = start.seq;
  uint64_t pos = Normalize(start.offset);
  uint32_t min_epoch = start.epoch_floor;
  out->end_offset = pos;
  out->start_found_offset = pos;
  out->last_seg = geo_.SegmentOf(pos);
  std::vector<bool> seen(geo_.segment_count, false);
  std::vector<bool> anchored(geo_.segment_count, false);
  auto anchor = [&](const Position& at, uint64_t travelled) {
    const uint32_t seg = geo_.SegmentOf(at.offset);
    if (anchored[seg]) return;
    anchored[seg] = true;
    out->anchors.push_back({at, travelled});
  };
  ReadBuffer rb;
  uint64_t scanned = 0;  // guards against looping over a ring of impossible data
  // Where the chain begins: the start record's own offset once it is found (the start may lie
  // just before it). Distances below are measured from here, as Verify (which starts at the
  // resolved head) measures them.
  uint64_t origin = pos;
  while (scanned <= geo_.data_bytes()) {
    uint64_t at;
    RecordHeader h;
    if (Locate(pos, expected, min_epoch, &at, &h, nullptr, &rb)) {
      uint32_t seg = geo_.SegmentOf(at);
      if (h.seq == start.seq) out->start_found_offset = origin = at;
      if (!seen[seg]) {
        seen[seg] = true;
        out->seg_first.emplace_back(seg, Position{h.seq, at, 0});
      }
      if (h.batch_index == 0) anchor(Position{h.seq, at, 0}, scanned + DistanceFrom(pos, at));
      uint64_t len = kRecordHeaderBytes + h.length;
      // A start position may lie before its record (padding, the end of a segment the record
      // did not fit in); that stretch is not part of the chain, and counting it would cut a
      // full ring short of its newest records (and scan differently from Verify, which starts
      // at the resolved head).
      scanned += (h.seq == start.seq ? 0 : DistanceFrom(pos, at)) + len;
      out->any = true;
      out->records++;
      out->bytes += h.length;
      out->next_seq = h.seq + 1;
      out->end_offset = at + len;
      out->last_seg = seg;
      out->last_epoch = h.epoch;
      min_epoch = h.epoch;
      pos = at + len;
      expected = h.seq + 1;
      continue;
    }
    // The record `expected` is not where it can be. Either this is the torn tail of the last
    // batch (normal after a power cut), or durable data is damaged: look ahead for a later
    // batch start. Ahead of the durable hint only about one second of writes can be durable,
    // so the search goes as far as the hint plus two segments, not the whole ring.
    // Distances from the origin, measured as travelled. The hint's seq is still ahead, so its
    // offset is too: one that seems no further than the chain already got (zero, in a full
    // ring, where the tail and its hint wrap round to the head) is a lap further on. Taken as
    // near, the search would stop two segments after the damage and report every durable
    // record beyond as lost.
    const uint64_t travelled = std::min(geo_.data_bytes(), scanned);
    uint64_t limit = travelled;
    if (durable_seq_hint > expected) {
      uint64_t hint = DistanceFrom(origin, durable_offset_hint);
      if (hint <= travelled) hint = geo_.data_bytes();
      limit = std::max(limit, hint);
    }
    limit = std::min(geo_.data_bytes(), limit + 2 * geo_.segment_bytes) - travelled;
    uint64_t resume_at;
    RecordHeader rh;
    if (Resync(pos, expected, min_epoch, limit, &resume_at, &rh)) {
      Damage d;
      d.first_seq = expected;
      d.last_seq = rh.seq - 1;
      d.offset = pos;
      d.resume = Position{rh.seq, resume_at, min_epoch};
      d.what = "records failed their checks inside durable data";
      out->damage.push_back(d);
      scanned += DistanceFrom(pos, resume_at);
      anchor(Position{rh.seq, resume_at, 0}, scanned);
      pos = resume_at;
      expected = rh.seq;
      continue;
    }
    if (durable_seq_hint > expected) {
      // Records below the durable hint were durable when the meta slot was written, and none
      // of them can be found: report them lost. Their seqs are never given out again.
      Damage d;
      d.first_seq = expected;
      d.last_seq = durable_seq_hint - 1;
      d.offset = pos;
      d.resume = Position{durable_seq_hint, Normalize(AlignUp(pos, kBatchAlignBytes)), min_epoch};
      d.what = "records known durable are missing at the end of the ring";
      out->damage.push_back(d);
      out->next_seq = durable_seq_hint;
      out->end_offset = pos;
      out->any = true;
    }
    out->torn_tail_offset = pos;
    uint8_t hdr[kRecordHeaderBytes] = {};
    uint64_t np = Normalize(pos);
    if (np + kRecordHeaderBytes <= geo_.SegmentEnd(geo_.SegmentOf(np)) &&
        file_->ReadAt(np, hdr, sizeof(hdr)).ok()) {
      out->torn_tail = std::any_of(hdr, hdr + sizeof(hdr), [](uint8_t b) { return b != 0; });
    }
    break;
  }
  out->lapped = scanned > geo_.data_bytes();
  out->epoch_floor = min_epoch;
  out->travelled = scanned;
  if (!out->any) out->next_seq = start.seq;
}

void RingStore::RecoverFromMetaHeadLocked() {
  Position start{meta_.head_seq, Normalize(meta_.head_offset), 0};
  ScanResult scan;
  Scan(start, meta_.durable_seq_hint, meta_.durable_offset_hint, &scan);
  // A writer never lets its tail into the head's segment, so the records from a true head span
  // less than the data area. A chain that comes round past its own start means the head points
  // behind records the writer has since overwritten, or a resync after damage went almost a
  // whole lap round (a meta slot that passed its CRC but does not match the records: edited,
  // or rotten beyond what the CRC catches). Cut where the walk stopped, the chain would leave
  // durable records just past its end: their seqs would be given out again, and reads would
  // find the old records before the new ones. So the oldest part goes instead: the head keeps
  // its seq but moves to a later batch start, and the seqs skipped become a reported damage
  // range (recovery resyncs there, as after any damage, and every later recovery does the same
  // from the persisted head). The batch start chosen is the first past the overlap, else the
  // furthest; each step moves further along the chain, and the steps are bounded.
  bool reanchored = false;
  for (uint32_t step = 0; scan.lapped && step <= geo_.segment_count; step++) {
    const uint64_t overlap = scan.travelled - geo_.data_bytes();
    const ScanResult::Anchor* next = nullptr;
    for (const ScanResult::Anchor& a : scan.anchors) {
      if (a.at.seq <= start.seq || a.travelled == 0) continue;
      next = &a;
      if (a.travelled >= overlap) break;
    }
    if (next == nullptr) break;
    start.offset = next->at.offset;
    Scan(start, meta_.durable_seq_hint, meta_.durable_offset_hint, &scan);
    reanchored = true;
  }
  if (reanchored && !scan.damage.empty() && scan.damage.front().first_seq == start.seq) {
    scan.damage.front().what =
        "the records from the meta slot's head run more than a whole ring round: the oldest were "
        "overwritten by newer ones";
  }
  ApplyScanLocked(start, scan);
}

void RingStore::ApplyScanLocked(const Position& start, const ScanResult& scan) {
  // The head where its record really is: a meta head may point just past the previous record
  // (before padding, or at the end of a segment the record did not fit in), and segment reuse
  // decides by the head's segment, so it must be the record's own.
  head_ = Position{start.seq, Normalize(scan.start_found_offset), 0};
  next_seq_ = std::max(scan.next_seq, start.seq);
  // The next batch starts at the sector after the last record; its seg is the last record's.
  tail_ = AlignUp(scan.end_offset, kBatchAlignBytes);
  tail_seg_ = scan.any ? scan.last_seg : geo_.SegmentOf(Normalize(scan.end_offset));
  if (!scan.any) tail_ = Normalize(tail_);
  if (tail_ > geo_.SegmentEnd(tail_seg_)) tail_ = geo_.SegmentEnd(tail_seg_);
  if (scan.any && start.seq < next_seq_ && tail_seg_ == geo_.SegmentOf(head_.offset) &&
      scan.travelled >= geo_.segment_bytes) {
    // The records came round a whole lap into the head's own segment. The writer never lets
    // the tail into the head's segment, so only a meta head that points too far back (an
    // edited or misleading slot) leaves this; the space after the tail there may be the
    // head's. No room is left in this segment: the next append must ask for a new one.
    tail_ = geo_.SegmentEnd(tail_seg_);
  }
  for (const auto& sf : scan.seg_first) seg_first_[sf.first] = sf.second;
  if (head_.seq == next_seq_) head_.offset = Normalize(tail_);

  // Records of this boot go right after the chain the scan walked, and a later scan accepts
  // them only with an epoch at least the chain's highest. Normally the next epoch is at least
  // that anyway: every boot writes its epoch before its first append, and a damaged newest slot
  // leaves one at most a boot older. A slot that does not match the records (a bug, an edited
  // file) can be older still; the epoch started next must then be above those records, or the
  // new records would be cut as leftovers at the next recovery. Never lowers the epoch.
  meta_.epoch = std::max(meta_.epoch, scan.epoch_floor);

  report_.head = head_;
  report_.next_seq = next_seq_;
  report_.records = next_seq_ - head_.seq;
  report_.torn_tail = scan.torn_tail;
  report_.torn_tail_offset = scan.torn_tail_offset;
  // Not added to damaged_total here: damage ahead of the head is found again by every recovery
  // until the head passes it, so it is counted when the head moves past it (see stats()).
  report_.damage = scan.damage;
  stats_.next_seq = next_seq_;
}

Status RingStore::StartEpochLocked() {
  if (meta_.epoch == UINT32_MAX) {
    // A wrapped epoch would fence off this boot's own records. Four billion boots do not
    // happen; a meta slot or record saying so is damage that passed its CRC.
    return Status::Corruption("ring " + path_ +
                              ": the boot epoch is at its maximum (4294967295); the meta slot or "
                              "a record is damaged. Drain the ring, move the file away and let "
                              "the agent create a new one");
  }
  meta_.epoch += 1;
  meta_dirty_ = true;
  return WriteMetaLocked();
}

Status RingStore::WriteMetaLocked() {
  Meta m = meta_;
  m.generation = meta_.generation + 1;
  m.flags = gaps_approximate_ ? kMetaFlagGapsApproximate : 0;
  m.head_seq = head_.seq;
  m.head_offset = Normalize(head_.offset);
  m.durable_seq_hint = next_seq_;
  m.durable_offset_hint = Normalize(tail_);
  m.dropped_total = stats_.dropped_total;
  m.damaged_total = stats_.damaged_total;
  m.gap_count = static_cast<uint32_t>(std::min<size_t>(gaps_.size(), kMaxGaps));
  for (uint32_t i = 0; i < m.gap_count; i++) m.gaps[i] = gaps_[i];

  uint8_t slot[kMetaUsed];
  EncodeMeta(m, slot);
  Status s = file_->WriteAt(kMetaSlotOffset + meta_next_slot_ * kMetaSlotBytes, slot, sizeof(slot));
  stats_.written_bytes += sizeof(slot);
  if (s.ok()) {
    s = file_->Sync();
    stats_.syncs++;
  }
  if (!s.ok()) {
    // The slot may hold anything now. Keep meta_ (the last durable state) and write the same
    // slot next time: the other slot is the last good one and must not be touched.
    meta_.generation = m.generation;  // a later write must still outrank whatever landed
    return s.WithContext("ring " + path_ + ": meta slot write");
  }
  meta_ = m;
  meta_next_slot_ = (meta_next_slot_ + 1) % kMetaSlotCount;
  meta_dirty_ = false;
  stats_.meta_writes++;
  return Status::Ok();
}

bool RingStore::SegmentInUseLocked(uint32_t seg) const {
  if (head_.seq >= next_seq_) return false;
  if (geo_.SegmentOf(head_.offset) == seg) return true;
  // A segment whose first record this lap is not yet acknowledged. The writer only ever asks
  // for the segment after the tail's, which is normally the head's or a free one; this also
  // covers a head that points into damage just before the segment its records resume in.
  const uint64_t first = seg_first_[seg].seq;
  return first >= head_.seq && first < next_seq_;
}

uint64_t RingStore::DamagedSeqsLocked(uint64_t first, uint64_t end) const {
  uint64_t n = 0;
  for (const Damage& d : report_.damage) {
    const uint64_t lo = std::max(first, d.first_seq);
    const uint64_t hi = std::min(end, d.last_seq + 1);
    if (lo < hi) n += hi - lo;
  }
  return n;
}

uint64_t RingStore::MoveHeadLocked(const Position& to) {
  const uint64_t damaged = DamagedSeqsLocked(head_.seq, to.seq);
  stats_.damaged_total += damaged;
  head_ = to;
  meta_dirty_ = true;
  return damaged;
}

void RingStore::AddGapLocked(uint64_t first, uint64_t last) {
  if (first > last) return;
  if (!gaps_.empty() && gaps_.back().last_seq + 1 == first) {
    gaps_.back().last_seq = last;
  } else {
    gaps_.push_back(Gap{first, last});
  }
  if (gaps_.size() > static_cast<size_t>(kMaxGaps)) {
    // Too many separate ranges to persist: merge the two oldest. The merged range may include
    // delivered records, so the report is marked approximate rather than ranges being lost.
    gaps_[1].first_seq = gaps_[0].first_seq;
    gaps_.erase(gaps_.begin());
    gaps_approximate_ = true;
  }
}

// Makes segment seg safe to overwrite, or says why not. REQUIRES: mu_ held.
Status RingStore::PrepareSegmentLocked(uint32_t seg) {
  if (SegmentInUseLocked(seg)) {
    if (options_.full_policy == FullPolicy::kReject) {
      return Status::RingFull("ring " + path_ + " is full (" +
                              Plural(next_seq_ - head_.seq, "record") +
                              " not yet confirmed by the broker); policy `reject`");
    }
    // drop_oldest: the head segment's unacknowledged records are dropped and reported. The
    // new head is the first record after the segment, where it really is: normally the next
    // segment's start, but after recovery found damage there, where the good records resume
    // (a head at the segment start would then miss its record, and the next recovery would
    // report the good records after it as damage). A segment where recovery found no record at
    // all is dropped too; its seqs are already reported as damage. Entries from earlier laps
    // have seqs below the head and are passed over. (An entry holding the head's own seq would
    // mean a head pointing into seg only by position: nothing would be dropped, the head would
    // move to its record. Heads are resolved to their records, so it does not arise.)
    Position first_kept;
    for (uint32_t k = 1; k < geo_.segment_count; k++) {
      const Position& p = seg_first_[(seg + k) % geo_.segment_count];
      if (p.seq >= head_.seq && p.seq < next_seq_) {
        first_kept = p;
        break;
      }
    }
    if (first_kept.seq == 0) {
      // Only reachable when every record after the head's segment was lost to damage.
      return Status::Corruption("ring " + path_ + ": cannot drop the oldest segment: no intact " +
                                "record follows it (see the damage recovery reported); " +
                                "acknowledging the head frees the space");
    }
    // The gap report names every seq that will never arrive, damaged ones included (consumers
    // learn of damage no other way); the counters count each seq once, as dropped or damaged.
    const uint64_t passed = first_kept.seq - head_.seq;
    AddGapLocked(head_.seq, first_kept.seq - 1);
    stats_.dropped_total += passed - MoveHeadLocked(first_kept);
  }
  if (geo_.SegmentOf(Normalize(meta_.head_offset)) == seg &&
      !(meta_.head_seq == head_.seq && Normalize(meta_.head_offset) == Normalize(head_.offset))) {
    // The durable head still points into seg: make the newer head durable before the segment
    // is overwritten, or recovery would start from records that are gone.
    EDGE_RETURN_IF_ERROR(WriteMetaLocked());
  }
  return Status::Ok();
}

size_t RingStore::ReleaseBatchLists() {
  size_t released =
      batch_headers_.capacity() + batch_slices_.capacity() * sizeof(port::ConstSlice);
  std::vector<uint8_t>().swap(batch_headers_);  // clear() keeps the capacity
  std::vector<port::ConstSlice>().swap(batch_slices_);
  return released;
}

Status RingStore::AppendBatch(const std::vector<std::string_view>& payloads,
                              std::vector<Result<uint64_t>>* results) {
  results->assign(payloads.size(), Result<uint64_t>(Status::Internal("not appended")));
  // A run is what one write puts down: consecutive records in one segment, as
  // batch_slices_[begin, begin + count) (each record a header slice, then its payload), len
  // bytes in all.
  struct Run {
    uint64_t offset;
    size_t begin;
    size_t count;
    size_t len;
  };
  std::vector<Run> runs;
  uint64_t run_end = 0;  // the byte after the last run
  std::vector<size_t> placed;  // indexes of payloads that got a place
  std::vector<std::pair<uint32_t, Position>> new_seg_first;
  uint64_t first_seq;
  uint64_t seq;
  uint64_t pos;
  uint32_t seg;
  uint64_t payload_bytes = 0;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (read_only_) {
      Status s = Status::FailedPrecondition("ring " + path_ + " is open read-only");
      for (auto& r : *results) r = s;
      return s;
    }
    if (broken_) {
      for (auto& r : *results) r = broken_status_;
      return broken_status_;
    }
    first_seq = next_seq_;
    seq = next_seq_;
    pos = tail_;
    seg = tail_seg_;
    // Sized once, before any header is encoded: the slices point into it.
    batch_headers_.resize(payloads.size() * kRecordHeaderBytes);
    batch_slices_.clear();
    Status full;  // set at the first ring_full; later payloads fail the same way (order)
    for (size_t i = 0; i < payloads.size(); i++) {
      const std::string_view p = payloads[i];
      if (p.size() > geo_.max_payload_bytes()) {
        (*results)[i] = Status::TooLarge("payload of " + std::to_string(p.size()) +
                                         " bytes exceeds the ring's largest record (" +
                                         std::to_string(geo_.max_payload_bytes()) +
                                         " bytes: one segment less its header)");
        continue;
      }
      if (!full.ok()) {
        (*results)[i] = full;
        continue;
      }
      const uint64_t need = kRecordHeaderBytes + p.size();
      if (pos + need > geo_.SegmentEnd(seg)) {
        uint32_t next = (seg + 1) % geo_.segment_count;
        Status s = PrepareSegmentLocked(next);
        if (s.code() == Code::kRingFull) {
          stats_.rejected_full++;
          full = s;
          (*results)[i] = s;
          continue;
        }
        if (!s.ok()) {
          for (auto& r : *results) {
            if (r.status().code() == Code::kInternal) r = s;
          }
          return s;
        }
        seg = next;
        pos = geo_.SegmentStart(seg);
        new_seg_first.emplace_back(seg, Position{seq, pos, 0});
      }
      if (runs.empty() || pos != run_end) runs.push_back(Run{pos, batch_slices_.size(), 0, 0});
      RecordHeader h;
      h.length = static_cast<uint32_t>(p.size());
      h.epoch = meta_.epoch;
      h.seq = seq;
      h.batch_index = static_cast<uint32_t>(placed.size());
      uint8_t* header = batch_headers_.data() + placed.size() * kRecordHeaderBytes;
      const auto* payload = reinterpret_cast<const uint8_t*>(p.data());
      EncodeRecordHeader(h, payload, header);
      batch_slices_.push_back({header, kRecordHeaderBytes});
      batch_slices_.push_back({payload, p.size()});
      runs.back().count += 2;
      runs.back().len += need;
      placed.push_back(i);
      payload_bytes += p.size();
      pos += need;
      run_end = pos;
      seq++;
    }
    if (placed.empty()) return Status::Ok();
    // Pad to the next sector so the next batch never shares a sector with this one.
    static const uint8_t kZeros[kBatchAlignBytes] = {};
    uint64_t padded = AlignUp(pos, kBatchAlignBytes);
    batch_slices_.push_back({kZeros, static_cast<size_t>(padded - pos)});
    runs.back().count++;
    runs.back().len += padded - pos;
    pos = padded;
  }

  // The I/O runs without the lock: readers and acknowledgements go on meanwhile. Nothing here
  // is visible until the commit below.
  Status s;
  uint64_t written = 0;
  for (const Run& r : runs) {
    s = file_->WriteGatherAt(r.offset, batch_slices_.data() + r.begin, r.count);
    if (!s.ok()) break;
    written += r.len;
  }
  if (s.ok()) s = file_->Sync();

  std::unique_lock<std::mutex> lock(mu_);
  stats_.written_bytes += written;
  stats_.syncs++;
  if (!s.ok()) {
    Status failed(s.code(), "ring " + path_ + ": " + s.message() + "; " +
                                Plural(placed.size(), "append") +
                                " failed (they may or may not be on disk; nothing was reported "
                                "durable); the ring was re-read from disk");
    for (size_t i : placed) (*results)[i] = failed;
    ReloadAfterIoErrorLocked(s);
    return failed;
  }
  // Only the writer thread moves next_seq_, so it is still first_seq here.
  for (size_t k = 0; k < placed.size(); k++) (*results)[placed[k]] = first_seq + k;
  for (const auto& sf : new_seg_first) seg_first_[sf.first] = sf.second;
  if (head_.seq == first_seq) {
    // The ring was drained: the head pointed only at a position (the old tail). Its record now
    // exists, maybe at the next segment's start; segment reuse decides by the head's segment,
    // so a head left behind would keep a fully acknowledged segment busy and make `reject`
    // refuse appends one segment early.
    head_ = Position{first_seq, runs.front().offset, 0};
  }
  next_seq_ = seq;
  tail_ = pos;
  tail_seg_ = seg;
  meta_dirty_ = true;
  stats_.batches++;
  stats_.appended_records += placed.size();
  stats_.appended_payload_bytes += payload_bytes;
  return Status::Ok();
}

void RingStore::ReloadAfterIoErrorLocked(const Status& cause) {
  // Never retry-and-trust: the failed pages are marked clean and reads may return bytes that
  // never reached the device. Drop the cache and find out what really is there, from the head.
  Status s = file_->DropCache();
  if (!s.ok()) {
    broken_ = true;
    broken_status_ = Status::FailedPrecondition(
        "ring " + path_ + " stopped taking appends after an I/O error (" + cause.message() +
        ") and could not drop its cache to re-read the disk (" + s.message() +
        "); restart the "
        "agent to recover from disk");
    return;
  }
  ScanResult scan;
  Scan(head_, next_seq_, tail_, &scan);
  Position head = head_;
  ApplyScanLocked(head, scan);
  // Readers' buffers may hold bytes of the failed batch, whose seqs are given out again below.
  reload_generation_.fetch_add(1, std::memory_order_acq_rel);
  // What the scan did not find was never reported durable, so its seqs may be given out again;
  // the batch may have been partly written, and the new epoch below fences off its leftovers.
  s = StartEpochLocked();
  if (!s.ok()) {
    broken_ = true;
    broken_status_ = Status::FailedPrecondition(
        "ring " + path_ + " stopped taking appends: after an I/O error (" + cause.message() +
        ") a new epoch could not be written (" + s.message() + "); restart the agent");
  }
}

Position RingStore::head() const {
  std::lock_guard<std::mutex> l(mu_);
  return head_;
}

uint64_t RingStore::next_seq() const {
  std::lock_guard<std::mutex> l(mu_);
  return next_seq_;
}

Status RingStore::Read(const Position& pos, Record* rec, ReadBuffer* buffer) const {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (pos.seq < head_.seq || pos.seq >= next_seq_) {
      return Status::NotFound("ring " + path_ + ": seq " + std::to_string(pos.seq) +
                              " is not in the ring (durable seqs are " + std::to_string(head_.seq) +
                              ".." + std::to_string(next_seq_) + ")");
    }
    for (const Damage& d : report_.damage) {
      if (pos.seq >= d.first_seq && pos.seq <= d.last_seq) {
        rec->seq = pos.seq;
        rec->payload.clear();
        rec->next = d.resume;
        return Status::Corruption("ring " + path_ + ": seqs " + std::to_string(d.first_seq) + ".." +
                                  std::to_string(d.last_seq) + " are damaged (" + d.what +
                                  "); continue at seq " + std::to_string(d.resume.seq));
      }
    }
  }
  // Durable records are immutable until acknowledged and their segment reused, so the bytes
  // are read without the lock.
  uint64_t at;
  RecordHeader h;
  std::string payload;
  // The head's offset is always resolved; a caller's Position may be a stale copy of it.
  Position h0 = head();
  uint64_t start = pos.seq == h0.seq ? h0.offset : pos.offset;
  if (!Locate(start, pos.seq, pos.epoch_floor, &at, &h, &payload, buffer)) {
    rec->next = pos;  // no way forward is known: callers must not skip past it
    std::lock_guard<std::mutex> l(mu_);
    if (pos.seq < head_.seq) {
      // Dropped (drop_oldest) or acknowledged while we read: not damage.
      return Status::NotFound("ring " + path_ + ": seq " + std::to_string(pos.seq) +
                              " left the ring while being read (head is now " +
                              std::to_string(head_.seq) + ")");
    }
    return Status::Corruption("ring " + path_ + ": record seq " + std::to_string(pos.seq) +
                              " near offset " + std::to_string(pos.offset) +
                              " fails its checks (damaged after recovery?)");
  }
  rec->seq = h.seq;
  rec->epoch = h.epoch;
  rec->payload = std::move(payload);
  rec->next = Position{h.seq + 1, at + kRecordHeaderBytes + h.length, h.epoch};
  return Status::Ok();
}

Status RingStore::Acknowledge(const Position& next_unacked) {
  std::lock_guard<std::mutex> l(mu_);
  if (next_unacked.seq <= head_.seq) return Status::Ok();
  if (next_unacked.seq > next_seq_) {
    return Status::InvalidArgument("ring " + path_ + ": cannot acknowledge through seq " +
                                   std::to_string(next_unacked.seq - 1) + ": only seqs below " +
                                   std::to_string(next_seq_) + " are durable");
  }
  Position to;
  if (next_unacked.seq == next_seq_) {
    to = Position{next_seq_, Normalize(tail_), 0};
  } else {
    // Resolve the position to where the record really is (after padding, or at the next
    // segment start), so segment reuse decisions and the meta head are exact.
    uint64_t at;
    RecordHeader h;
    bool found = false;
    for (const Damage& d : report_.damage) {
      if (next_unacked.seq >= d.first_seq && next_unacked.seq <= d.last_seq) {
        to = Position{next_unacked.seq, Normalize(d.offset), 0};
        found = true;
      }
    }
    if (!found) {
      if (!Locate(next_unacked.offset, next_unacked.seq, next_unacked.epoch_floor, &at, &h, nullptr,
                  nullptr)) {
        return Status::Corruption("ring " + path_ + ": cannot find record seq " +
                                  std::to_string(next_unacked.seq) + " to move the head to");
      }
      to = Position{next_unacked.seq, at, 0};
    }
  }
  MoveHeadLocked(to);
  return Status::Ok();
}

Status RingStore::Checkpoint() {
  std::lock_guard<std::mutex> l(mu_);
  if (read_only_ || !meta_dirty_) return Status::Ok();
  if (broken_) return broken_status_;
  return WriteMetaLocked();
}

bool RingStore::CheckpointPending() const {
  std::lock_guard<std::mutex> l(mu_);
  return meta_dirty_ && !read_only_;
}

std::vector<Gap> RingStore::PendingGaps() const {
  std::lock_guard<std::mutex> l(mu_);
  return gaps_;
}

bool RingStore::PendingGapsApproximate() const {
  std::lock_guard<std::mutex> l(mu_);
  return gaps_approximate_;
}

void RingStore::MarkGapsReportedThrough(uint64_t last_seq) {
  std::lock_guard<std::mutex> l(mu_);
  size_t done = 0;
  while (done < gaps_.size() && gaps_[done].last_seq <= last_seq) done++;
  bool changed = done > 0;
  gaps_.erase(gaps_.begin(), gaps_.begin() + static_cast<long>(done));
  if (!gaps_.empty() && gaps_.front().first_seq <= last_seq) {
    gaps_.front().first_seq = last_seq + 1;
    changed = true;
  }
  if (!changed) return;
  if (gaps_.empty()) gaps_approximate_ = false;
  meta_dirty_ = true;
}

RingStats RingStore::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  RingStats s = stats_;
  // Damage the head has passed is in stats_ (persisted with the head that passed it); damage
  // ahead of it was found by this boot's recovery and is counted on top, so each damaged seq
  // counts once however often the agent restarts before forwarding gets past it.
  s.damaged_total += DamagedSeqsLocked(head_.seq, next_seq_);
  s.geometry = geo_;
  s.head = head_;
  s.next_seq = next_seq_;
  s.epoch = meta_.epoch;
  s.used_bytes = head_.seq == next_seq_ ? 0 : DistanceFrom(head_.offset, tail_);
  if (s.used_bytes == 0 && head_.seq != next_seq_) s.used_bytes = geo_.data_bytes();
  return s;
}

Status RingStore::Verify(std::vector<Damage>* damage, uint64_t* records) const {
  Position start;
  Meta meta;
  {
    std::lock_guard<std::mutex> l(mu_);
    start = head_;
    meta = meta_;
  }
  ScanResult scan;
  Scan(start, meta.durable_seq_hint, meta.durable_offset_hint, &scan);
  *damage = scan.damage;
  *records = scan.records;
  if (!scan.damage.empty()) {
    return Status::Corruption("ring " + path_ + ": " + Plural(scan.damage.size(), "damaged range") +
                              " found");
  }
  return Status::Ok();
}

}  // namespace edge::ring
