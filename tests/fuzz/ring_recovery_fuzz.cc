// Fuzz target: ring recovery (agent/ring/ring_store.h) from arbitrary file images.
//
// Raw random bytes are not a ring: they fail the format header's CRC and recovery stops at the
// first check. So each input is a list of edits to one of a few valid ring images made by small
// seeded workloads (built once per process, deterministic), and the edits that would otherwise
// be stopped by a CRC can fix the CRC up afterwards. That reaches every branch of recovery:
// meta slots that point anywhere, records with wrong seqs or epochs that still pass their CRC,
// stale records copied elsewhere, torn and zeroed regions, odd geometries.
//
// Input:
//   u8 base        which image (kBases)
//   u8 flags       bit 0: open with drop_oldest (else reject)
//   then edits until the input ends, each [u8 op][operands]:
//     kOverwrite   u16 offset, u8 n, n bytes            bytes anywhere in the file
//     kXor         u16 offset, u8 n, n bytes
//     kZero        u16 offset, u16 n
//     kCopy        u16 from, u16 to, u16 n              e.g. a stale record somewhere else
//     kMetaField   u8 slot, u8 field, value (*)         then the slot's CRC is made valid
//     kHeaderField u8 copy, u8 field, value (*)         then the header's CRC is made valid
//     kRecordField u8 record, u8 field, value (*)       a record of the base image; bit 6 of
//                                                      `field` set: its CRC is made valid
//     kResize      u16 size                             the file becomes size bytes (mod 64 KiB)
//   (*) value: bit 7 of `field` set: i8 delta added to the field, else the field's width in
//       bytes, little-endian. Offsets are taken modulo the image size. Missing operand bytes
//       read as zero.
//
// For each image: OpenReadOnly and Open (read-write) must each either fail with a clear error
// or recover. A recovered store must:
// - read every seq in [head, next_seq) either as a record with that seq, or as part of a
//   damaged range that says where to continue (never stuck), the same with and without a read
//   buffer, and agree with its own recovery report and (read-only) with Verify;
// - recover the same way read-only and read-write (one algorithm, the same bytes);
// - after recovery, take appends, read them back, and still hold every one of them after a
//   checkpoint and a reopen: a record reported durable is never lost, whatever the image was.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/ring/crc32c.h"
#include "agent/ring/format.h"
#include "agent/ring/ring_store.h"
#include "port/sim_fs.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using edge::Code;
using edge::Status;
using edge::port::SimFileSystem;
using namespace edge::ring;  // NOLINT: the fuzz target exercises this namespace only

constexpr char kPath[] = "/data/ring";
constexpr uint64_t kSegmentBytes = 4096;
constexpr uint64_t kFileBytes = kDataOffset + 6 * kSegmentBytes;  // 40 KiB: laps are cheap

enum Op : uint8_t {
  kOverwrite,
  kXor,
  kZero,
  kCopy,
  kMetaField,
  kHeaderField,
  kRecordField,
  kResize,
  kOpCount
};

struct Field {
  uint32_t offset;
  uint32_t width;
};
// Meta slot fields (format.h), the gap list's first two entries included.
constexpr Field kMetaFields[] = {{0, 4},  {8, 8},  {16, 4}, {20, 4}, {24, 8}, {32, 8},
                                 {40, 8}, {48, 8}, {56, 8}, {64, 8}, {72, 4}, {80, 8},
                                 {88, 8}, {96, 8}, {104, 8}};
// Format header fields.
constexpr Field kHeaderFields[] = {{8, 4},  {12, 4}, {16, 8}, {24, 8},
                                   {32, 8}, {40, 4}, {44, 4}, {48, 8}};
// Record header fields: magic, length, epoch, seq, batch index.
constexpr Field kRecordFields[] = {{0, 4}, {8, 4}, {12, 4}, {16, 8}, {24, 4}};

// Reads operands; past the end of the input every byte is zero.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  uint8_t U8() { return at_ < size_ ? data_[at_++] : 0; }
  uint16_t U16() {
    uint16_t lo = U8();
    return static_cast<uint16_t>(lo | U8() << 8);
  }
  uint64_t Le(uint32_t width) {
    uint64_t v = 0;
    for (uint32_t i = 0; i < width; i++) v |= static_cast<uint64_t>(U8()) << (8 * i);
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

uint64_t GetLe(const uint8_t* p, uint32_t width) {
  uint64_t v = 0;
  for (uint32_t i = 0; i < width; i++) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}
void PutLe(uint8_t* p, uint32_t width, uint64_t v) {
  for (uint32_t i = 0; i < width; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Sets a field from the input: a small signed delta (flag bit 7) or a whole new value.
void EditField(uint8_t* p, uint32_t width, uint8_t selector, Reader* in) {
  uint64_t v = GetLe(p, width);
  if ((selector & 0x80) != 0) {
    v += static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(in->U8())));
  } else {
    v = in->Le(width);
  }
  PutLe(p, width, v);
}

// ---------------------------------------------------------------------------------------------
// Base images

std::string Payload(uint64_t n, size_t size) {
  std::string p(size, '\0');
  for (size_t i = 0; i < size; i++) p[i] = static_cast<char>((n * 131 + i * 7) & 0xff);
  return p;
}

RingOptions Options(FullPolicy policy) {
  RingOptions o;
  o.file_bytes = kFileBytes;
  o.segment_bytes = kSegmentBytes;
  o.full_policy = policy;
  return o;
}

std::unique_ptr<RingStore> MustOpen(SimFileSystem* fs, FullPolicy policy) {
  auto store = RingStore::Open(fs, kPath, Options(policy));
  FUZZ_CHECK(store.ok(), "base image: open: " + store.status().ToString());
  return std::move(store).value();
}

// Appends `batches` batches of 1..5 payloads of 0..700 bytes; returns how many were stored.
uint64_t AppendSome(RingStore* store, uint32_t* rng, int batches) {
  uint64_t stored = 0;
  for (int b = 0; b < batches; b++) {
    *rng = *rng * 1103515245u + 12345u;
    const size_t n = (*rng >> 16) % 5 + 1;
    std::vector<std::string> payloads;
    for (size_t i = 0; i < n; i++) {
      *rng = *rng * 1103515245u + 12345u;
      payloads.push_back(Payload(*rng, (*rng >> 16) % 700));
    }
    std::vector<std::string_view> views(payloads.begin(), payloads.end());
    std::vector<edge::Result<uint64_t>> results;
    Status s = store->AppendBatch(views, &results);
    FUZZ_CHECK(s.ok(), "base image: append: " + s.ToString());
    for (const auto& r : results) stored += r.ok() ? 1 : 0;
  }
  return stored;
}

// Reads from the head and acknowledges the first `n` records (fewer if there are fewer).
void AcknowledgeSome(RingStore* store, uint64_t n) {
  Position pos = store->head();
  Position last = pos;
  for (uint64_t i = 0; i < n && pos.seq < store->next_seq(); i++) {
    Record rec;
    Status s = store->Read(pos, &rec);
    FUZZ_CHECK(s.ok(), "base image: read: " + s.ToString());
    pos = rec.next;
    last = pos;
  }
  Status s = store->Acknowledge(last);
  FUZZ_CHECK(s.ok(), "base image: acknowledge: " + s.ToString());
  s = store->Checkpoint();
  FUZZ_CHECK(s.ok(), "base image: checkpoint: " + s.ToString());
}

// The durable image of the ring, with the random ring id and the creation time replaced by
// constants so that every run builds the same bytes (a crash must replay).
std::string Freeze(SimFileSystem* fs) {
  auto image = fs->ReadDurable(kPath);
  FUZZ_CHECK(image.ok(), "base image: " + image.status().ToString());
  std::string s = std::move(image).value();
  FUZZ_CHECK(s.size() == kFileBytes, "base image size " + std::to_string(s.size()));
  auto* p = reinterpret_cast<uint8_t*>(s.data());
  Geometry g;
  std::string why;
  FUZZ_CHECK(DecodeFormatHeader(p, &g, &why), "base image header: " + why);
  g.ring_id = 0x0123456789abcdefull;
  g.created_unix_s = 1700000000;
  EncodeFormatHeader(g, p);
  EncodeFormatHeader(g, p + kFormatCopyBytes);
  return s;
}

struct Base {
  const char* name;
  std::string image;
  std::vector<uint64_t> record_offsets;  // every valid record in the image
};

// Every offset holding a record whose header and CRC check out (any seq or epoch).
std::vector<uint64_t> FindRecords(const std::string& image) {
  std::vector<uint64_t> out;
  const auto* p = reinterpret_cast<const uint8_t*>(image.data());
  for (uint64_t off = kDataOffset; off + kRecordHeaderBytes <= image.size(); off++) {
    RecordHeader h;
    if (!DecodeRecordHeader(p + off, &h)) continue;
    if (off + kRecordHeaderBytes + h.length > image.size()) continue;
    if (RecordCrcMatches(p + off, p + off + kRecordHeaderBytes, h.length)) out.push_back(off);
  }
  return out;
}

std::vector<Base> BuildBases() {
  std::vector<Base> bases;
  uint32_t rng = 1;
  {  // A ring just created: no records.
    SimFileSystem fs(1);
    MustOpen(&fs, FullPolicy::kReject).reset();
    bases.push_back({"fresh", Freeze(&fs), {}});
  }
  {  // Records in the first few segments, nothing acknowledged.
    SimFileSystem fs(2);
    auto store = MustOpen(&fs, FullPolicy::kReject);
    AppendSome(store.get(), &rng, 8);
    FUZZ_CHECK(store->Checkpoint().ok(), "base image: checkpoint");
    store.reset();
    bases.push_back({"filled", Freeze(&fs), {}});
  }
  {  // Several laps with acknowledgements and restarts: stale records of older laps and
     // epochs all over the data area.
    SimFileSystem fs(3);
    for (int boot = 0; boot < 4; boot++) {
      auto store = MustOpen(&fs, FullPolicy::kReject);
      for (int round = 0; round < 6; round++) {
        uint64_t n = AppendSome(store.get(), &rng, 3);
        AcknowledgeSome(store.get(), n);
      }
      store.reset();
    }
    bases.push_back({"wrapped", Freeze(&fs), {}});
  }
  {  // drop_oldest overflow: gaps in the meta slot, some reported.
    SimFileSystem fs(4);
    auto store = MustOpen(&fs, FullPolicy::kDropOldest);
    AppendSome(store.get(), &rng, 30);
    std::vector<Gap> gaps = store->PendingGaps();
    FUZZ_CHECK(!gaps.empty(), "base image: drop_oldest dropped nothing");
    store->MarkGapsReportedThrough(gaps[0].last_seq);
    FUZZ_CHECK(store->Checkpoint().ok(), "base image: checkpoint");
    AppendSome(store.get(), &rng, 10);
    FUZZ_CHECK(store->Checkpoint().ok(), "base image: checkpoint");
    store.reset();
    bases.push_back({"dropped", Freeze(&fs), {}});
  }
  {  // A power cut in the middle of a batch write: a torn tail after durable records.
    SimFileSystem fs(5);
    auto store = MustOpen(&fs, FullPolicy::kReject);
    AppendSome(store.get(), &rng, 6);
    fs.CrashAfterOps(1);  // the next batch is written but its sync never happens
    std::vector<std::string> payloads = {Payload(1, 600), Payload(2, 900), Payload(3, 100)};
    std::vector<std::string_view> views(payloads.begin(), payloads.end());
    std::vector<edge::Result<uint64_t>> results;
    (void)store->AppendBatch(views, &results);
    store.reset();
    edge::port::SimFaultMix mix;
    mix.keep_old = 0;  // every sector of the batch lands: new bytes or garbage, never nothing
    fs.SetFaultMix(mix);
    fs.PowerCut(5);
    bases.push_back({"torn", Freeze(&fs), {}});
  }
  for (Base& b : bases) b.record_offsets = FindRecords(b.image);
  return bases;
}

const std::vector<Base>& Bases() {
  static const std::vector<Base>* bases = new std::vector<Base>(BuildBases());
  return *bases;
}

// ---------------------------------------------------------------------------------------------
// Edits

// Applies the edits in `in` to `image`.
void ApplyEdits(const Base& base, Reader* in, std::string* image) {
  while (!in->done()) {
    const uint8_t op = in->U8() % kOpCount;
    auto* p = reinterpret_cast<uint8_t*>(image->data());
    const size_t size = image->size();
    switch (op) {
      case kOverwrite:
      case kXor: {
        const size_t off = in->U16();
        const size_t n = in->U8();
        for (size_t i = 0; i < n; i++) {
          const uint8_t b = in->U8();
          if (size == 0) continue;
          uint8_t& dst = p[(off + i) % size];
          dst = op == kXor ? static_cast<uint8_t>(dst ^ b) : b;
        }
        break;
      }
      case kZero: {
        const size_t off = in->U16();
        const size_t n = in->U16();
        for (size_t i = 0; i < n && size > 0; i++) p[(off + i) % size] = 0;
        break;
      }
      case kCopy: {
        const size_t from = in->U16();
        const size_t to = in->U16();
        const size_t n = in->U16() % (2 * kSegmentBytes);
        if (size == 0) break;
        std::string bytes(n, '\0');
        for (size_t i = 0; i < n; i++) bytes[i] = static_cast<char>(p[(from + i) % size]);
        for (size_t i = 0; i < n; i++) p[(to + i) % size] = static_cast<uint8_t>(bytes[i]);
        break;
      }
      case kMetaField: {
        const uint64_t slot = kMetaSlotOffset + (in->U8() % kMetaSlotCount) * kMetaSlotBytes;
        const uint8_t sel = in->U8();
        const Field f = kMetaFields[(sel & 0x7f) % (sizeof(kMetaFields) / sizeof(Field))];
        if (slot + kMetaUsed > size) break;
        EditField(p + slot + f.offset, f.width, sel, in);
        PutU32(p + slot + 4, Crc32c(p + slot + 8, kMetaUsed - 8));
        break;
      }
      case kHeaderField: {
        const uint64_t copy = (in->U8() % 2) * kFormatCopyBytes;
        const uint8_t sel = in->U8();
        const Field f = kHeaderFields[(sel & 0x7f) % (sizeof(kHeaderFields) / sizeof(Field))];
        if (copy + kFormatHeaderUsed > size) break;
        EditField(p + copy + f.offset, f.width, sel, in);
        PutU32(p + copy + 64, Crc32c(p + copy, 64));
        break;
      }
      case kRecordField: {
        const uint8_t which = in->U8();
        const uint8_t sel = in->U8();
        const Field f = kRecordFields[(sel & 0x3f) % (sizeof(kRecordFields) / sizeof(Field))];
        if (base.record_offsets.empty()) {
          (void)in->U8();
          break;
        }
        const uint64_t off = base.record_offsets[which % base.record_offsets.size()];
        if (off + kRecordHeaderBytes > size) break;
        EditField(p + off + f.offset, f.width, sel & 0x80, in);
        const uint64_t length = GetU32(p + off + 8);
        if ((sel & 0x40) != 0 && off + kRecordHeaderBytes + length <= size) {
          uint32_t crc = Crc32c(p + off + 8, kRecordHeaderBytes - 8);
          crc = Crc32cExtend(crc, p + off + kRecordHeaderBytes, length);
          PutU32(p + off + 4, crc);
        }
        break;
      }
      case kResize:
        image->resize(in->U16());
        break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Checks

std::string Str(const Position& p) {
  return "{seq " + std::to_string(p.seq) + ", offset " + std::to_string(p.offset) + ", epoch " +
         std::to_string(p.epoch_floor) + "}";
}

// What reading the whole ring from the head gave.
struct Walk {
  std::map<uint64_t, std::string> records;  // seq -> payload
  uint64_t damaged = 0;                     // seqs inside damaged ranges
};

Walk ReadEverything(const RingStore& store, bool with_buffer) {
  Walk w;
  const Position head = store.head();
  const uint64_t next = store.next_seq();
  FUZZ_CHECK(head.seq <= next, "head " + Str(head) + " beyond next_seq " + std::to_string(next));
  RingStore::ReadBuffer rb;
  Position pos = head;
  uint64_t steps = 0;
  while (pos.seq < next) {
    FUZZ_CHECK(++steps <= next - head.seq, "reading the ring does not end");
    Record rec;
    Status s = store.Read(pos, &rec, with_buffer ? &rb : nullptr);
    if (s.ok()) {
      FUZZ_CHECK(rec.seq == pos.seq && rec.next.seq == pos.seq + 1,
                 "read " + Str(pos) + " gave seq " + std::to_string(rec.seq) + " next " +
                     Str(rec.next));
      w.records[rec.seq] = rec.payload;
    } else {
      // Damage recovery found is reported with the way forward; anything else is a record
      // recovery counted but reading cannot find: the publisher would be stuck there forever.
      FUZZ_CHECK(s.code() == Code::kCorruption && rec.next.seq > pos.seq,
                 "read " + Str(pos) + ": " + s.ToString() + "; next " + Str(rec.next) + "; " +
                     store.recovery().Summary());
      w.damaged += std::min(rec.next.seq, next) - pos.seq;
    }
    pos = rec.next;
  }
  FUZZ_CHECK(w.records.size() + w.damaged == next - head.seq,
             "read " + std::to_string(w.records.size()) + " records and " +
                 std::to_string(w.damaged) + " damaged seqs of " +
                 std::to_string(next - head.seq));
  return w;
}

// exact_verify: Verify scans with the same inputs as recovery did (a read-only store: its meta
// slot is the one recovery started from), so it must find the same records and damage.
Walk CheckRecovered(const RingStore& store, bool exact_verify) {
  const RecoveryReport& r = store.recovery();
  FUZZ_CHECK(r.head.seq == store.head().seq && r.next_seq == store.next_seq() &&
                 r.records == r.next_seq - r.head.seq,
             "recovery report disagrees with the store: " + r.Summary());
  uint64_t previous_last = 0;
  for (const Damage& d : r.damage) {
    FUZZ_CHECK(d.first_seq <= d.last_seq && d.first_seq >= r.head.seq &&
                   d.last_seq < r.next_seq && d.resume.seq == d.last_seq + 1 &&
                   (previous_last == 0 || d.first_seq > previous_last) && !d.what.empty(),
               "bad damage range in " + r.Summary());
    previous_last = d.last_seq;
  }
  FUZZ_CHECK(!r.Summary().empty(), "empty recovery summary");
  Walk plain = ReadEverything(store, /*with_buffer=*/false);
  Walk buffered = ReadEverything(store, /*with_buffer=*/true);
  FUZZ_CHECK(plain.records == buffered.records && plain.damaged == buffered.damaged,
             "reads with and without a read buffer differ");

  std::vector<Damage> damage;
  uint64_t records = 0;
  Status v = store.Verify(&damage, &records);
  FUZZ_CHECK(v.ok() == damage.empty() && (v.ok() || v.code() == Code::kCorruption),
             "Verify: " + v.ToString());
  if (exact_verify) {
    FUZZ_CHECK(damage.size() == r.damage.size() && records == plain.records.size(),
               "Verify found " + std::to_string(records) + " records and " +
                   std::to_string(damage.size()) + " damaged ranges; recovery: " + r.Summary());
  }
  return plain;
}

// Puts the image on the simulated disk as a synced file: recovery sees exactly these bytes.
void LoadImage(SimFileSystem* fs, const std::string& image) {
  auto f = fs->Create(kPath);
  FUZZ_CHECK(f.ok(), f.status().ToString());
  Status s = image.empty() ? Status::Ok() : (*f)->WriteAt(0, image.data(), image.size());
  if (s.ok()) s = (*f)->Sync();
  if (s.ok()) s = fs->SyncDir("/data");
  FUZZ_CHECK(s.ok(), s.ToString());
}

void CheckOpenError(const Status& s, const char* how) {
  // Bad images are refused with a message naming the ring, never with a crash or a bug code.
  FUZZ_CHECK(s.code() == Code::kCorruption || s.code() == Code::kInvalidArgument,
             std::string(how) + " failed with an unexpected code: " + s.ToString());
  FUZZ_CHECK(s.message().find(kPath) != std::string::npos,
             std::string(how) + " error does not name the ring: " + s.ToString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<Base>& bases = Bases();
  Reader in(data, size);
  const Base& base = bases[in.U8() % bases.size()];
  const uint8_t flags = in.U8();
  const FullPolicy policy = (flags & 1) != 0 ? FullPolicy::kDropOldest : FullPolicy::kReject;
  std::string image = base.image;
  ApplyEdits(base, &in, &image);

  SimFileSystem fs(7);
  LoadImage(&fs, image);

  // Read-only first: it must not write, so the read-write open below sees the same bytes.
  auto ro = RingStore::OpenReadOnly(&fs, kPath);
  Walk ro_walk;
  if (ro.ok()) {
    ro_walk = CheckRecovered(**ro, /*exact_verify=*/true);
  } else {
    CheckOpenError(ro.status(), "OpenReadOnly");
  }
  auto after_ro = fs.ReadDurable(kPath);
  FUZZ_CHECK(after_ro.ok() && *after_ro == image, "OpenReadOnly changed the file");

  // The read-write open uses the size the image claims, so edited geometries are opened too.
  RingOptions options = Options(policy);
  if (ro.ok()) options.file_bytes = (*ro)->geometry().file_bytes;
  auto rw = RingStore::Open(&fs, kPath, options);
  if (!rw.ok()) {
    CheckOpenError(rw.status(), "Open");
    // The one thing only a read-write open does: start a new boot epoch, impossible when an
    // edited meta slot or record already claims the last one.
    FUZZ_CHECK(!ro.ok() || (*ro)->recovery().epoch == UINT32_MAX,
               "OpenReadOnly recovered but Open failed: " + rw.status().ToString());
    return 0;
  }
  FUZZ_CHECK(ro.ok(), "Open recovered an image OpenReadOnly refused");
  std::unique_ptr<RingStore> store = std::move(rw).value();
  const RecoveryReport& a = (*ro)->recovery();
  const RecoveryReport& b = store->recovery();
  FUZZ_CHECK(a.head.seq == b.head.seq && a.next_seq == b.next_seq &&
                 a.damage.size() == b.damage.size() && a.torn_tail == b.torn_tail,
             "read-only and read-write recovery differ:\n  " + a.Summary() + "\n  " +
                 b.Summary());
  Walk rw_walk = CheckRecovered(*store, /*exact_verify=*/false);
  FUZZ_CHECK(rw_walk.records == ro_walk.records, "read-only and read-write read different records");
  ro->reset();

  // Appends after recovery: durable means durable, whatever the image held before.
  const uint64_t first_new = store->next_seq();
  std::vector<std::string> payloads = {Payload(first_new, 5), Payload(first_new + 1, 300),
                                       Payload(first_new + 2, 1000)};
  std::vector<std::string_view> views(payloads.begin(), payloads.end());
  std::vector<edge::Result<uint64_t>> results;
  Status s = store->AppendBatch(views, &results);
  FUZZ_CHECK(s.ok(), "append after recovery: " + s.ToString() + "; " + b.Summary());
  std::map<uint64_t, std::string> appended;
  for (size_t i = 0; i < results.size(); i++) {
    if (results[i].ok()) {
      FUZZ_CHECK(*results[i] == first_new + appended.size(),
                 "append gave seq " + std::to_string(*results[i]));
      appended[*results[i]] = payloads[i];
    } else {
      FUZZ_CHECK(results[i].status().code() == Code::kRingFull && policy == FullPolicy::kReject,
                 "append after recovery: " + results[i].status().ToString());
    }
  }
  Walk after_append = ReadEverything(*store, /*with_buffer=*/true);
  for (const auto& [seq, payload] : appended) {
    auto it = after_append.records.find(seq);
    FUZZ_CHECK(it != after_append.records.end() && it->second == payload,
               "appended seq " + std::to_string(seq) + " does not read back; " + b.Summary());
  }
  s = store->Checkpoint();
  FUZZ_CHECK(s.ok(), "checkpoint after recovery: " + s.ToString());
  const std::string before = b.Summary();  // b dies with the store
  store.reset();

  // A restart: every appended record is still there (or was dropped under drop_oldest, which
  // moves the head past it and reports it, never silently).
  auto again = RingStore::Open(&fs, kPath, options);
  if (!again.ok() &&
      again.status().message().find("boot epoch is at its maximum") != std::string::npos) {
    // An edited meta slot or record carries the last epoch (this boot's, or a stale record
    // with the next seq that the chain now reaches past the appended ones), so no later boot
    // can start one: RingStore::Open refuses, saying so. The records must still be there to
    // drain.
    again = RingStore::OpenReadOnly(&fs, kPath);
  }
  FUZZ_CHECK(again.ok(), "reopen after appending: " + again.status().ToString());
  const RecoveryReport& c = (*again)->recovery();
  FUZZ_CHECK(c.next_seq >= first_new + appended.size(),
             "seqs went backwards after a restart: " + c.Summary());
  Walk reopened = CheckRecovered(**again, /*exact_verify=*/false);
  for (const auto& [seq, payload] : appended) {
    if (seq < c.head.seq && policy == FullPolicy::kDropOldest) continue;
    auto it = reopened.records.find(seq);
    FUZZ_CHECK(it != reopened.records.end() && it->second == payload,
               "durable seq " + std::to_string(seq) + " lost after a restart:\n  before: " +
                   before + "\n  after: " + c.Summary());
  }
  return 0;
}
