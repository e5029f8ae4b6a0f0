// RingStore, one behaviour at a time, on SimFileSystem (format.h, ring_store.h).
#include "agent/ring/ring_store.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "agent/ring/format.h"
#include "port/sim_fs.h"

namespace edge::ring {
namespace {

constexpr char kPath[] = "/var/lib/edge-agent/ring";

RingOptions TinyRing(FullPolicy policy = FullPolicy::kReject) {
  RingOptions o;
  o.segment_bytes = 4096;
  o.file_bytes = kDataOffset + 8 * 4096;
  o.full_policy = policy;
  return o;
}

std::unique_ptr<RingStore> MustOpen(port::FileSystem* fs, const RingOptions& o) {
  auto store = RingStore::Open(fs, kPath, o);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

std::string Payload(uint64_t n, size_t size) {
  std::string p(size, '\0');
  for (size_t i = 0; i < size; i++) p[i] = static_cast<char>('a' + (n * 7 + i) % 26);
  return p;
}

// Appends payloads as one batch; returns each result.
std::vector<Result<uint64_t>> Append(RingStore* store, const std::vector<std::string>& payloads,
                                     Status* status = nullptr) {
  std::vector<std::string_view> views(payloads.begin(), payloads.end());
  std::vector<Result<uint64_t>> results;
  Status s = store->AppendBatch(views, &results);
  if (status != nullptr) {
    *status = s;
  } else {
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return results;
}

// Every record from the head, in order.
std::vector<Record> ReadAll(RingStore* store) {
  std::vector<Record> out;
  Position pos = store->head();
  while (pos.seq < store->next_seq()) {
    Record rec;
    Status s = store->Read(pos, &rec);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) break;
    pos = rec.next;
    out.push_back(std::move(rec));
  }
  return out;
}

// Reads everything and acknowledges it, then checkpoints.
void AcknowledgeAll(RingStore* store) {
  std::vector<Record> all = ReadAll(store);
  if (all.empty()) return;
  ASSERT_TRUE(store->Acknowledge(all.back().next).ok());
  ASSERT_TRUE(store->Checkpoint().ok());
}

TEST(RingFormat, FormatHeaderRoundTripsAndRejectsAFlippedByte) {
  Geometry g;
  std::string why;
  ASSERT_TRUE(ChooseGeometry(kDataOffset + 8 * 4096, 4096, &g, &why)) << why;
  g.ring_id = 0x1122334455667788ull;
  g.created_unix_s = 1700000000;
  uint8_t buf[kFormatHeaderUsed];
  EncodeFormatHeader(g, buf);
  Geometry back;
  ASSERT_TRUE(DecodeFormatHeader(buf, &back, &why)) << why;
  EXPECT_EQ(back.file_bytes, g.file_bytes);
  EXPECT_EQ(back.segment_bytes, 4096u);
  EXPECT_EQ(back.segment_count, 8u);
  EXPECT_EQ(back.ring_id, g.ring_id);
  buf[20] ^= 1;
  EXPECT_FALSE(DecodeFormatHeader(buf, &back, &why));
}

TEST(RingFormat, MetaRoundTripsWithGapsAndRejectsAFlippedByte) {
  Meta m;
  m.generation = 9;
  m.epoch = 3;
  m.head_seq = 100;
  m.head_offset = kDataOffset + 512;
  m.durable_seq_hint = 140;
  m.gap_count = 2;
  m.gaps[0] = Gap{5, 9};
  m.gaps[1] = Gap{20, 29};
  uint8_t buf[kMetaUsed];
  EncodeMeta(m, buf);
  Meta back;
  ASSERT_TRUE(DecodeMeta(buf, &back));
  EXPECT_EQ(back.generation, 9u);
  EXPECT_EQ(back.head_seq, 100u);
  EXPECT_EQ(back.gap_count, 2u);
  EXPECT_EQ(back.gaps[1].last_seq, 29u);
  buf[30] ^= 0x40;
  EXPECT_FALSE(DecodeMeta(buf, &back));
}

TEST(RingFormat, RecordCrcCoversHeaderAndPayload) {
  std::string payload = "hello ring";
  RecordHeader h;
  h.length = static_cast<uint32_t>(payload.size());
  h.epoch = 2;
  h.seq = 77;
  uint8_t hdr[kRecordHeaderBytes];
  EncodeRecordHeader(h, reinterpret_cast<const uint8_t*>(payload.data()), hdr);
  RecordHeader back;
  ASSERT_TRUE(DecodeRecordHeader(hdr, &back));
  EXPECT_EQ(back.seq, 77u);
  EXPECT_TRUE(
      RecordCrcMatches(hdr, reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
  payload[3] ^= 1;
  EXPECT_FALSE(
      RecordCrcMatches(hdr, reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
}

TEST(RingStore, CreatesANewRingAndRoundTripsRecordsAcrossReopen) {
  port::SimFileSystem fs;
  {
    auto store = MustOpen(&fs, TinyRing());
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(store->recovery().created);
    auto results = Append(store.get(), {"", "one", Payload(1, 1000)});
    ASSERT_TRUE(results[0].ok() && results[1].ok() && results[2].ok());
    EXPECT_EQ(results[0].value(), 1u);
    EXPECT_EQ(results[2].value(), 3u);
  }
  fs.PowerCut(1);  // only what was synced counts
  auto store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(store->recovery().created);
  EXPECT_TRUE(store->recovery().damage.empty()) << store->recovery().Summary();
  std::vector<Record> all = ReadAll(store.get());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].payload, "");
  EXPECT_EQ(all[1].payload, "one");
  EXPECT_EQ(all[2].payload, Payload(1, 1000));
  EXPECT_EQ(store->next_seq(), 4u);
}

TEST(RingStore, WrapsAroundAndReusesSegmentsOnceAcknowledged) {
  port::SimFileSystem fs;
  auto store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  // 40 rounds of ~3 KiB through a 32 KiB ring: several laps.
  uint64_t n = 0;
  for (int round = 0; round < 40; round++) {
    auto results =
        Append(store.get(), {Payload(n, 1000), Payload(n + 1, 1000), Payload(n + 2, 1000)});
    for (auto& r : results)
      ASSERT_TRUE(r.ok()) << "round " << round << ": " << r.status().ToString();
    std::vector<Record> all = ReadAll(store.get());
    ASSERT_EQ(all.size(), 3u);
    for (int i = 0; i < 3; i++) EXPECT_EQ(all[i].payload, Payload(n + i, 1000));
    n += 3;
    AcknowledgeAll(store.get());
  }
  EXPECT_EQ(store->next_seq(), 121u);
  store.reset();
  fs.PowerCut(2);
  store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->next_seq(), 121u) << "seqs never go back, even with nothing left to read";
  EXPECT_EQ(store->head().seq, 121u);
}

TEST(RingStore, RejectsAppendWhenFullUnderRejectPolicy) {
  port::SimFileSystem fs;
  auto store = MustOpen(&fs, TinyRing(FullPolicy::kReject));
  ASSERT_NE(store, nullptr);
  Status status;
  std::vector<Result<uint64_t>> results;
  int accepted = 0;
  for (int i = 0; i < 64; i++) {
    results = Append(store.get(), {Payload(i, 1500)}, &status);
    ASSERT_TRUE(status.ok()) << "ring_full is per payload, not a failed batch";
    if (!results[0].ok()) break;
    accepted++;
  }
  ASSERT_FALSE(results[0].ok()) << "a 32 KiB ring cannot take 64 x 1.5 KiB";
  EXPECT_EQ(results[0].status().code(), Code::kRingFull);
  EXPECT_NE(results[0].status().message().find("reject"), std::string::npos)
      << results[0].status().message();
  EXPECT_GT(accepted, 8);

  // After the first ring_full in a batch, the rest of the batch fails too, even a payload
  // small enough to fit: one producer's pipelined payloads stay in order.
  results = Append(store.get(), {Payload(1, 1500), Payload(2, 10)});
  EXPECT_EQ(results[0].status().code(), Code::kRingFull);
  EXPECT_EQ(results[1].status().code(), Code::kRingFull);
  // Nothing was dropped: every accepted record is still there.
  EXPECT_EQ(ReadAll(store.get()).size(), static_cast<size_t>(accepted));
  EXPECT_TRUE(store->PendingGaps().empty());

  // Acknowledging and checkpointing frees space.
  AcknowledgeAll(store.get());
  results = Append(store.get(), {Payload(3, 1500)});
  EXPECT_TRUE(results[0].ok()) << results[0].status().ToString();
}

// The case from the field: the publisher caught up (the head is just the old tail's position,
// near a segment end), then the broker went away and the ring filled. Segment 0 holds only
// acknowledged bytes, so `reject` must use it: 8 records of nearly a segment each fit, not 7.
// And the reused segment must not take the durable head with it across a power cut.
TEST(RingStore, RejectUsesEveryFreeSegmentAfterTheRingWasDrainedNearASegmentEnd) {
  port::SimFileSystem fs;
  auto store = MustOpen(&fs, TinyRing(FullPolicy::kReject));
  ASSERT_NE(store, nullptr);
  // One record and its padding leave 512 bytes of segment 0, too few for the next record.
  const size_t big = 3500;  // 28 + 3500 bytes, padded to 3584: one record per segment
  ASSERT_TRUE(Append(store.get(), {Payload(0, big)})[0].ok());
  AcknowledgeAll(store.get());
  ASSERT_EQ(store->head().seq, 2u);

  std::vector<uint64_t> accepted;
  for (int i = 1; i <= 12; i++) {
    auto results = Append(store.get(), {Payload(i, big)});
    if (!results[0].ok()) {
      EXPECT_EQ(results[0].status().code(), Code::kRingFull) << results[0].status().ToString();
      break;
    }
    accepted.push_back(results[0].value());
  }
  EXPECT_EQ(accepted.size(), 8u) << "segments 1-7 and the acknowledged segment 0";
  std::vector<Record> all = ReadAll(store.get());
  ASSERT_EQ(all.size(), accepted.size());
  for (size_t k = 0; k < all.size(); k++) EXPECT_EQ(all[k].payload, Payload(k + 1, big));

  store.reset();
  fs.PowerCut(6);
  store = MustOpen(&fs, TinyRing(FullPolicy::kReject));
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->recovery().damage.empty()) << store->recovery().Summary();
  all = ReadAll(store.get());
  ASSERT_EQ(all.size(), accepted.size()) << "every durable record survives the power cut";
  EXPECT_EQ(all.front().seq, 2u);
  for (size_t k = 0; k < all.size(); k++) EXPECT_EQ(all[k].payload, Payload(k + 1, big));
}

// A gap report covers the ranges pending when it was made; a later drop may extend the last of
// them. Marking "reported through" the report's last seq keeps exactly what it did not cover,
// and that survives a power cut once checkpointed.
TEST(RingStore, MarkingGapsReportedThroughASeqKeepsWhatALaterDropAdded) {
  port::SimFileSystem fs;
  auto store = MustOpen(&fs, TinyRing(FullPolicy::kDropOldest));
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 40; i++) ASSERT_TRUE(Append(store.get(), {Payload(i, 1500)})[0].ok());
  std::vector<Gap> reported = store->PendingGaps();
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_FALSE(store->PendingGapsApproximate());
  const uint64_t through = reported.back().last_seq;
  // More drops while the report travels: the same gap grows (adjacent ranges merge).
  for (int i = 40; i < 80; i++) ASSERT_TRUE(Append(store.get(), {Payload(i, 1500)})[0].ok());
  std::vector<Gap> grown = store->PendingGaps();
  ASSERT_EQ(grown.size(), 1u);
  ASSERT_GT(grown[0].last_seq, through);

  store->MarkGapsReportedThrough(through - 1);  // an older report: trims the front only
  ASSERT_EQ(store->PendingGaps().size(), 1u);
  EXPECT_EQ(store->PendingGaps()[0].first_seq, through);
  store->MarkGapsReportedThrough(through);
  std::vector<Gap> left = store->PendingGaps();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].first_seq, through + 1);
  EXPECT_EQ(left[0].last_seq, grown[0].last_seq);
  store->MarkGapsReportedThrough(0);  // nothing reported: nothing changes
  EXPECT_EQ(store->PendingGaps()[0].first_seq, through + 1);

  ASSERT_TRUE(store->Checkpoint().ok());
  store.reset();
  fs.PowerCut(5);
  store = MustOpen(&fs, TinyRing(FullPolicy::kDropOldest));
  ASSERT_NE(store, nullptr);
  left = store->PendingGaps();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].first_seq, through + 1);
  store->MarkGapsReportedThrough(left[0].last_seq);
  EXPECT_TRUE(store->PendingGaps().empty());
}

TEST(RingStore, DropsOldestSegmentAndReportsGapUnderDropOldestPolicy) {
  port::SimFileSystem fs;
  auto store = MustOpen(&fs, TinyRing(FullPolicy::kDropOldest));
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 64; i++) {
    auto results = Append(store.get(), {Payload(i, 1500)});
    ASSERT_TRUE(results[0].ok()) << "drop_oldest never refuses: " << results[0].status().ToString();
  }
  std::vector<Gap> gaps = store->PendingGaps();
  ASSERT_FALSE(gaps.empty());
  EXPECT_EQ(gaps.front().first_seq, 1u) << "the oldest records go first";
  std::vector<Record> all = ReadAll(store.get());
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front().seq, gaps.back().last_seq + 1) << "the gap ends where the ring resumes";
  EXPECT_EQ(all.back().seq, 64u);
  EXPECT_GT(store->stats().dropped_total, 0u);

  // The gaps survive a restart until they are reported and checkpointed.
  ASSERT_TRUE(store->Checkpoint().ok());
  store.reset();
  fs.PowerCut(3);
  store = MustOpen(&fs, TinyRing(FullPolicy::kDropOldest));
  ASSERT_NE(store, nullptr);
  ASSERT_EQ(store->PendingGaps().size(), gaps.size());
  store->MarkGapsReportedThrough(gaps.back().last_seq);
  EXPECT_TRUE(store->PendingGaps().empty());
  ASSERT_TRUE(store->Checkpoint().ok());
  store.reset();
  fs.PowerCut(4);
  store = MustOpen(&fs, TinyRing(FullPolicy::kDropOldest));
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->PendingGaps().empty());
}

TEST(RingStore, FailsTooLargePayloadsAloneAndKeepsTheRestOfTheBatch) {
  port::SimFileSystem fs;
  auto store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  const size_t max = store->geometry().max_payload_bytes();
  auto results = Append(store.get(), {"a", std::string(max + 1, 'x'), std::string(max, 'y'), "b"});
  ASSERT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].status().code(), Code::kTooLarge);
  EXPECT_NE(results[1].status().message().find(std::to_string(max)), std::string::npos)
      << "the error says the limit: " << results[1].status().message();
  ASSERT_TRUE(results[2].ok()) << "a payload of exactly the maximum fits";
  ASSERT_TRUE(results[3].ok());
  EXPECT_EQ(results[2].value(), 2u) << "too_large payloads take no seq";
  std::vector<Record> all = ReadAll(store.get());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[1].payload, std::string(max, 'y'));
}

TEST(RingStore, RecoversATornTailWithoutReportingDamage) {
  int torn_seen = 0;
  for (uint64_t seed = 1; seed <= 20; seed++) {
    port::SimFileSystem fs(seed);
    auto store = MustOpen(&fs, TinyRing());
    ASSERT_NE(store, nullptr);
    auto first = Append(store.get(), {Payload(1, 700), Payload(2, 700)});
    ASSERT_TRUE(first[1].ok());
    // The next batch is written, but the power fails at its fdatasync.
    fs.CrashAfterOps(1);
    Status status;
    auto second = Append(store.get(), {Payload(3, 900), Payload(4, 900)}, &status);
    EXPECT_FALSE(status.ok());
    EXPECT_FALSE(second[0].ok());
    store.reset();
    fs.SetFaultMix(port::SimFaultMix{0, 1, 0, 1, 1, 1});  // half-new, half-garbage sectors
    fs.PowerCut(seed);

    store = MustOpen(&fs, TinyRing());
    ASSERT_NE(store, nullptr);
    const RecoveryReport& report = store->recovery();
    EXPECT_TRUE(report.damage.empty()) << "a torn tail is not damage: " << report.Summary();
    torn_seen += report.torn_tail;
    std::vector<Record> all = ReadAll(store.get());
    ASSERT_GE(all.size(), 2u);
    EXPECT_EQ(all[0].payload, Payload(1, 700));
    EXPECT_EQ(all[1].payload, Payload(2, 700));
    for (size_t i = 2; i < all.size(); i++) {
      EXPECT_EQ(all[i].payload, Payload(i + 1, 900)) << "a kept tail record is whole";
    }
    // And appending goes on after the cut.
    auto more = Append(store.get(), {"after"});
    ASSERT_TRUE(more[0].ok());
    EXPECT_EQ(more[0].value(), all.size() + 1);
  }
  EXPECT_GT(torn_seen, 0);
}

// Overwrites both meta slots with bytes that fail their checks (bit rot in two blocks).
void DamageBothMetaSlots(port::FileSystem* fs) {
  auto file = fs->Open(kPath, port::Access::kReadWrite);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  std::string junk(kMetaSlotCount * kMetaSlotBytes, '\xab');
  ASSERT_TRUE((*file)->WriteAt(kMetaSlotOffset, junk.data(), junk.size()).ok());
  ASSERT_TRUE((*file)->Sync().ok());
}

TEST(RingStore, StartsWhenBothMetaSlotsAreDamagedAndKeepsEveryUnacknowledgedRecord) {
  port::SimFileSystem fs;
  auto store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  // Several laps of acknowledged records, so stale segments surround the live ones...
  uint64_t n = 0;
  for (int round = 0; round < 25; round++) {
    auto results =
        Append(store.get(), {Payload(n, 1000), Payload(n + 1, 1000), Payload(n + 2, 1000)});
    for (auto& r : results) ASSERT_TRUE(r.ok()) << r.status().ToString();
    n += 3;
    AcknowledgeAll(store.get());
  }
  // ...then six unacknowledged records across two segments.
  const uint64_t first_unacked = store->next_seq();
  for (int round = 0; round < 2; round++) {
    auto results =
        Append(store.get(), {Payload(n, 1200), Payload(n + 1, 1200), Payload(n + 2, 1200)});
    for (auto& r : results) ASSERT_TRUE(r.ok()) << r.status().ToString();
    n += 3;
  }
  const uint64_t next_seq = store->next_seq();
  store.reset();
  DamageBothMetaSlots(&fs);

  store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr) << "two rotten meta blocks must not stop the agent from starting";
  EXPECT_TRUE(store->recovery().meta_rebuilt);
  EXPECT_NE(store->recovery().Summary().find("BOTH META SLOTS DAMAGED"), std::string::npos)
      << store->recovery().Summary();
  EXPECT_TRUE(store->recovery().damage.empty()) << store->recovery().Summary();
  EXPECT_EQ(store->next_seq(), next_seq) << "seqs are never given out twice";
  EXPECT_LE(store->head().seq, first_unacked) << "an unacknowledged record was skipped";
  std::vector<Record> all = ReadAll(store.get());
  ASSERT_EQ(all.size(), next_seq - store->head().seq);
  for (size_t i = 1; i < all.size(); i++) EXPECT_EQ(all[i].seq, all[i - 1].seq + 1);
  for (uint64_t seq = first_unacked; seq < next_seq; seq++) {
    const Record& rec = all[seq - store->head().seq];
    EXPECT_EQ(rec.payload, Payload(seq - 1, 1200)) << "seq " << seq;
  }

  // The whole ring is unacknowledged now (here: full) until the publisher has sent it again.
  // Once it is acknowledged, appends go on and the next open is an ordinary one.
  ASSERT_TRUE(store->Acknowledge(all.back().next).ok());
  auto more = Append(store.get(), {"after the rebuild"});
  ASSERT_TRUE(more[0].ok()) << more[0].status().ToString() << " / " << store->recovery().Summary();
  EXPECT_EQ(more[0].value(), next_seq);
  const uint64_t head_after = store->head().seq;
  store.reset();
  store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  EXPECT_FALSE(store->recovery().meta_rebuilt);
  EXPECT_EQ(store->head().seq, head_after);
  EXPECT_EQ(store->next_seq(), next_seq + 1);
}

TEST(RingStore, StartsEmptyWhenBothMetaSlotsOfANewRingAreDamaged) {
  port::SimFileSystem fs;
  auto store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  store.reset();
  DamageBothMetaSlots(&fs);
  auto ro = RingStore::OpenReadOnly(&fs, kPath);
  ASSERT_TRUE(ro.ok()) << ro.status().ToString();
  EXPECT_TRUE((*ro)->recovery().meta_rebuilt);
  ro->reset();
  store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->next_seq(), 1u);
  auto first = Append(store.get(), {"first"});
  ASSERT_TRUE(first[0].ok());
  EXPECT_EQ(first[0].value(), 1u);
}

TEST(RingStore, RefusesToReopenWithADifferentSizeWithAClearError) {
  port::SimFileSystem fs;
  { ASSERT_NE(MustOpen(&fs, TinyRing()), nullptr); }
  RingOptions bigger = TinyRing();
  bigger.file_bytes += 4096;
  auto store = RingStore::Open(&fs, kPath, bigger);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kInvalidArgument);
  const std::string& msg = store.status().message();
  EXPECT_NE(msg.find(kPath), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(TinyRing().file_bytes)), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(bigger.file_bytes)), std::string::npos) << msg;
}

TEST(RingStore, ReportsNoSpaceAtCreationWithAnErrorNamingThePath) {
  port::SimFileSystem fs;
  RingOptions o;
  o.file_bytes = 8 << 20;
  fs.SetCapacityBytes(1 << 20);
  auto store = RingStore::Open(&fs, kPath, o);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Code::kNoSpace);
  EXPECT_NE(store.status().message().find(kPath), std::string::npos) << store.status().message();
  EXPECT_FALSE(fs.Exists(kPath)) << "no half-made ring is left under the real name";
}

TEST(RingStore, ReportsTheLockWhenAnotherStoreHoldsTheRing) {
  port::SimFileSystem fs;
  auto first = MustOpen(&fs, TinyRing());
  ASSERT_NE(first, nullptr);
  auto second = RingStore::Open(&fs, kPath, TinyRing());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable) << second.status().ToString();
}

TEST(RingStore, NeverReportsABatchWhoseFsyncFailedAndKeepsWorking) {
  port::SimFileSystem fs(11);
  auto store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(Append(store.get(), {"kept"})[0].ok());
  fs.FailSyncs(0, 1);
  Status status;
  auto failed = Append(store.get(), {"maybe", "lost"}, &status);
  EXPECT_EQ(status.code(), Code::kIoError);
  EXPECT_FALSE(failed[0].ok());
  EXPECT_FALSE(failed[1].ok());
  auto after = Append(store.get(), {"later"});
  ASSERT_TRUE(after[0].ok()) << after[0].status().ToString();
  store.reset();
  fs.SetFaultMix(port::SimFaultMix::DropAll());
  fs.PowerCut(5);
  store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->recovery().damage.empty()) << store->recovery().Summary();
  std::vector<Record> all = ReadAll(store.get());
  ASSERT_GE(all.size(), 2u);
  EXPECT_EQ(all.front().payload, "kept");
  EXPECT_EQ(all.back().payload, "later");
  EXPECT_EQ(all.back().seq, after[0].value());
}

// Runs a hook just before each Sync of the files it opens: lets a single-threaded test do what
// another thread may do while the writer's batch is written but not yet synced.
class HookFileSystem final : public port::FileSystem {
 public:
  explicit HookFileSystem(port::SimFileSystem* inner) : inner_(inner) {}
  std::function<void()> before_sync;
  std::function<void()> before_read;

  Result<std::unique_ptr<port::File>> Open(const std::string& path, port::Access a) override {
    return Wrap(inner_->Open(path, a));
  }
  Result<std::unique_ptr<port::File>> Create(const std::string& path) override {
    return Wrap(inner_->Create(path));
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return inner_->Rename(from, to);
  }
  Status Remove(const std::string& path) override { return inner_->Remove(path); }
  Status SyncDir(const std::string& dir) override { return inner_->SyncDir(dir); }
  bool Exists(const std::string& path) override { return inner_->Exists(path); }
  Result<std::unique_ptr<port::FileLock>> Lock(const std::string& path) override {
    return inner_->Lock(path);
  }

 private:
  class HookFile final : public port::File {
   public:
    HookFile(std::unique_ptr<port::File> f, HookFileSystem* fs) : f_(std::move(f)), fs_(fs) {}
    Status WriteAt(uint64_t o, const void* d, size_t n) override { return f_->WriteAt(o, d, n); }
    Status ReadAt(uint64_t o, void* d, size_t n) const override {
      if (fs_->before_read) fs_->before_read();
      return f_->ReadAt(o, d, n);
    }
    Status Sync() override {
      if (fs_->before_sync) fs_->before_sync();
      return f_->Sync();
    }
    Status DropCache() override { return f_->DropCache(); }
    Result<uint64_t> Size() const override { return f_->Size(); }
    const std::string& path() const override { return f_->path(); }

   private:
    std::unique_ptr<port::File> f_;
    HookFileSystem* fs_;
  };

  Result<std::unique_ptr<port::File>> Wrap(Result<std::unique_ptr<port::File>> f) {
    if (!f.ok()) return f.status();
    return std::unique_ptr<port::File>(new HookFile(std::move(f).value(), this));
  }

  port::SimFileSystem* inner_;
};

// A reader's read-ahead (RingStore::ReadBuffer) taken while a batch is written but not yet
// synced holds that batch's records. If the fdatasync then fails, the store re-reads the disk,
// finds the batch gone, and gives its seqs to the next batch: the read-ahead must not return the
// failed batch's payload for those seqs. (Reproduces a lost-record bug: the publisher would send
// the never-durable payload under seq s and acknowledge away the durable one.)
TEST(RingStore, ReadAheadNeverReturnsTheRecordsOfABatchWhoseFsyncFailed) {
  int reproduced = 0;
  for (uint64_t seed = 1; seed <= 8; seed++) {
    port::SimFileSystem sim(seed);
    HookFileSystem fs(&sim);
    auto store = MustOpen(&fs, TinyRing());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(Append(store.get(), {"first"})[0].ok());

    // The publisher reads seq 1 with its read-ahead while batch 2 is in flight.
    RingStore::ReadBuffer buffer;
    Record first;
    bool read_done = false;
    fs.before_sync = [&] {
      if (read_done) return;
      read_done = true;
      ASSERT_TRUE(store->Read(store->head(), &first, &buffer).ok());
    };
    sim.FailSyncs(0, 1);
    Status status;
    auto failed = Append(store.get(), {"never durable"}, &status);
    ASSERT_EQ(status.code(), Code::kIoError);
    ASSERT_EQ(first.payload, "first");
    if (store->next_seq() != 2) continue;  // this seed persisted the failed batch: no reuse

    auto second = Append(store.get(), {"durable second"});
    ASSERT_TRUE(second[0].ok());
    ASSERT_EQ(second[0].value(), 2u);
    Record rec;
    ASSERT_TRUE(store->Read(first.next, &rec, &buffer).ok());
    EXPECT_EQ(rec.payload, "durable second")
        << "seed " << seed << ": the read-ahead returned the failed batch's payload for seq 2";
    Record direct;
    ASSERT_TRUE(store->Read(first.next, &direct).ok());
    EXPECT_EQ(direct.payload, "durable second") << "seed " << seed;
    reproduced++;
  }
  EXPECT_GT(reproduced, 0) << "no seed lost the failed batch; the scenario did not happen";
}

// Under drop_oldest the writer may drop and overwrite the segment a reader is reading from.
// Read checks the seq range under the lock and reads the bytes without it; the contract says a
// dropped record reads as kNotFound ("continue from head()"), never as damage.
TEST(RingStore, ReadOfARecordDroppedWhileBeingReadSaysNotFoundNotCorruption) {
  port::SimFileSystem sim(3);
  HookFileSystem fs(&sim);
  auto store = MustOpen(&fs, TinyRing(FullPolicy::kDropOldest));
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 20; i++) ASSERT_TRUE(Append(store.get(), {Payload(i, 1500)})[0].ok());
  const Position head = store->head();
  bool wrote = false;
  fs.before_read = [&] {
    if (wrote) return;
    wrote = true;
    // The writer thread, between Read's range check and its pread: a lap of new records
    // drops the head segment and rewrites it.
    for (int i = 0; i < 24; i++) Append(store.get(), {Payload(100 + i, 1500)});
  };
  Record rec;
  Status s = store->Read(head, &rec);
  ASSERT_TRUE(wrote);
  ASSERT_GT(store->head().seq, head.seq) << "the head segment was dropped meanwhile";
  EXPECT_TRUE(s.ok() || s.code() == Code::kNotFound) << s.ToString();
  if (s.ok()) {
    EXPECT_EQ(rec.payload, Payload(head.seq - 1, 1500));
  }
}

// --- Found by the ring recovery fuzzer (tests/fuzz/regressions/ring_recovery/) -----------------

// Replaces bytes of the ring file in place, durable image and cache alike (media damage, or a
// slot rewritten with a valid CRC, which a power cut cannot produce but a bug or an edit can).
void Rewrite(port::SimFileSystem* fs, uint64_t offset, const std::string& now) {
  auto image = fs->ReadDurable(kPath);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  for (size_t i = 0; i < now.size(); i++) {
    uint8_t mask = static_cast<uint8_t>((*image)[offset + i] ^ now[i]);
    if (mask != 0) {
      ASSERT_TRUE(fs->CorruptBytes(kPath, offset + i, 1, mask).ok());
    }
  }
}

// Decodes both meta slots, lets `edit` change them, and writes them back with valid CRCs.
void EditMetaSlots(port::SimFileSystem* fs, const std::function<void(Meta*)>& edit) {
  auto image = fs->ReadDurable(kPath);
  ASSERT_TRUE(image.ok());
  for (int slot = 0; slot < kMetaSlotCount; slot++) {
    const uint64_t at = kMetaSlotOffset + slot * kMetaSlotBytes;
    Meta m;
    ASSERT_TRUE(DecodeMeta(reinterpret_cast<const uint8_t*>(image->data()) + at, &m));
    edit(&m);
    uint8_t buf[kMetaUsed];
    EncodeMeta(m, buf);
    Rewrite(fs, at, std::string(reinterpret_cast<const char*>(buf), sizeof(buf)));
  }
}

TEST(RingStore, StartsAnEpochAboveTheRecordsItRecoveredSoNewRecordsSurviveTheNextRestart) {
  // Both meta slots claim an older epoch than the records on disk carry (slots that pass their
  // CRC but do not match the records: a bug, or an edited file). Appends after recovery must
  // still outrank those records, or the next recovery cuts them as crashed-boot leftovers.
  port::SimFileSystem fs;
  for (int boot = 0; boot < 3; boot++) {
    auto store = MustOpen(&fs, TinyRing());
    ASSERT_NE(store, nullptr);
    Append(store.get(), {Payload(boot, 100)});
  }
  EditMetaSlots(&fs, [](Meta* m) { m->epoch = 0; });
  std::vector<std::string> fresh = {Payload(10, 50), Payload(11, 60)};
  {
    auto store = MustOpen(&fs, TinyRing());
    ASSERT_NE(store, nullptr);
    EXPECT_GT(store->recovery().epoch, 3u);  // records of epochs 1..3 are on disk
    Append(store.get(), fresh);
    ASSERT_TRUE(store->Checkpoint().ok());
  }
  auto store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->recovery().damage.empty()) << store->recovery().Summary();
  std::vector<Record> all = ReadAll(store.get());
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[3].payload, fresh[0]);
  EXPECT_EQ(all[4].payload, fresh[1]);
}

// 14 records of 1000 bytes, one per batch (1536 bytes with padding: two per 4 KiB segment, so
// segments 0..6), then bit rot in the first record of segment 1: seq 3.
void WriteFourteenRecordsAndDamageSeqThree(port::SimFileSystem* fs, const RingOptions& options) {
  {
    auto store = MustOpen(fs, options);
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 14; i++) Append(store.get(), {Payload(i, 1000)});
  }
  ASSERT_TRUE(fs->CorruptBytes(kPath, kDataOffset + 4096 + 100, 1, 0x01).ok());
}

TEST(RingStore, DropOldestMovesTheHeadToWhereRecordsResumeAfterDamageAtASegmentStart) {
  // One 1000-byte record per batch (1536 bytes with its padding): two per 4 KiB segment. The
  // first record of segment 1 is damaged, so recovery resumes at the second. When drop_oldest
  // later drops segment 0, the new head must be that second record's real place, not the
  // segment start: a head where no record is makes the records after it unreadable, and the
  // next recovery would report them as damage.
  port::SimFileSystem fs;
  const RingOptions options = TinyRing(FullPolicy::kDropOldest);
  ASSERT_NO_FATAL_FAILURE(WriteFourteenRecordsAndDamageSeqThree(&fs, options));
  {
    auto store = MustOpen(&fs, options);
    ASSERT_NE(store, nullptr);
    ASSERT_EQ(store->recovery().damage.size(), 1u) << store->recovery().Summary();
    EXPECT_EQ(store->recovery().damage[0].first_seq, 3u);
    EXPECT_EQ(store->recovery().damage[0].last_seq, 3u);
    // Segment 7 takes seqs 15 and 16; seq 17 needs segment 0, so seqs 1..2 are dropped.
    for (int i = 0; i < 3; i++) Append(store.get(), {Payload(100 + i, 1000)});
    ASSERT_EQ(store->head().seq, 4u);
    std::vector<Record> all = ReadAll(store.get());
    ASSERT_EQ(all.size(), 14u);  // seqs 4..17
    EXPECT_EQ(all.front().seq, 4u);
    ASSERT_TRUE(store->Checkpoint().ok());
  }
  auto store = MustOpen(&fs, options);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->recovery().damage.empty()) << store->recovery().Summary();
  EXPECT_EQ(store->head().seq, 4u);
  EXPECT_EQ(ReadAll(store.get()).size(), 14u);
}

// A damaged record is one lost record, however often the agent restarts before forwarding
// gets past it (the broker may be away for days while the gateway power-cycles), and a drop
// under drop_oldest that takes it does not count it again as dropped.
TEST(RingStore, CountsEachDamagedRecordOnceAcrossRestartsAndDrops) {
  port::SimFileSystem fs;
  const RingOptions options = TinyRing(FullPolicy::kDropOldest);
  ASSERT_NO_FATAL_FAILURE(WriteFourteenRecordsAndDamageSeqThree(&fs, options));
  for (int boot = 0; boot < 3; boot++) {
    auto store = MustOpen(&fs, options);
    ASSERT_NE(store, nullptr);
    ASSERT_EQ(store->recovery().damage.size(), 1u) << store->recovery().Summary();
    EXPECT_EQ(store->stats().damaged_total, 1u) << "boot " << boot;
    ASSERT_TRUE(store->Checkpoint().ok());
    store.reset();
    fs.PowerCut(10 + boot);
  }
  auto store = MustOpen(&fs, options);
  ASSERT_NE(store, nullptr);
  // Seqs 15..17 need segment 0 back: seqs 1..2 are dropped, the head moves past seq 3 too.
  for (int i = 0; i < 3; i++) Append(store.get(), {Payload(100 + i, 1000)});
  ASSERT_EQ(store->head().seq, 4u);
  std::vector<Gap> gaps = store->PendingGaps();
  ASSERT_EQ(gaps.size(), 1u);
  EXPECT_EQ(gaps[0].first_seq, 1u);
  EXPECT_EQ(gaps[0].last_seq, 3u) << "the gap report names the damaged seq too";
  EXPECT_EQ(store->stats().dropped_total, 2u) << "seqs 1 and 2";
  EXPECT_EQ(store->stats().damaged_total, 1u) << "seq 3, counted once";
  ASSERT_TRUE(store->Checkpoint().ok());
  store.reset();
  fs.PowerCut(20);
  store = MustOpen(&fs, options);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->recovery().damage.empty()) << store->recovery().Summary();
  EXPECT_EQ(store->stats().dropped_total, 2u);
  EXPECT_EQ(store->stats().damaged_total, 1u) << "persisted with the head that passed it";
}

// Forwarding skips damage by acknowledging past it; the count moves into the meta slot with
// that head and stays one.
TEST(RingStore, KeepsTheDamageCountWhenTheHeadIsAcknowledgedPastTheDamage) {
  port::SimFileSystem fs;
  const RingOptions options = TinyRing();
  {
    auto store = MustOpen(&fs, options);
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 6; i++) Append(store.get(), {Payload(i, 1000)});
  }
  ASSERT_TRUE(fs.CorruptBytes(kPath, kDataOffset + 4096 + 100, 1, 0x01).ok());  // seq 3
  {
    auto store = MustOpen(&fs, options);
    ASSERT_NE(store, nullptr);
    ASSERT_EQ(store->recovery().damage.size(), 1u) << store->recovery().Summary();
    EXPECT_EQ(store->stats().damaged_total, 1u);
    ASSERT_TRUE(store->Acknowledge(store->recovery().damage[0].resume).ok());
    EXPECT_EQ(store->stats().damaged_total, 1u);
    ASSERT_TRUE(store->Checkpoint().ok());
  }
  fs.PowerCut(30);
  auto store = MustOpen(&fs, options);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->recovery().damage.empty()) << store->recovery().Summary();
  EXPECT_EQ(store->head().seq, 4u);
  EXPECT_EQ(store->stats().damaged_total, 1u);
}

TEST(RingStore, TreatsAMetaSlotWithImpossibleSeqsAsDamaged) {
  // A slot can pass its CRC and still be impossible (a bug, or an edited file): a durable hint
  // near 2^64 would make recovery report ~2^64 records lost and run the seqs into overflow.
  port::SimFileSystem fs;
  {
    auto store = MustOpen(&fs, TinyRing());
    ASSERT_NE(store, nullptr);
    Append(store.get(), {Payload(1, 10), Payload(2, 10)});
  }
  EditMetaSlots(&fs, [](Meta* m) { m->durable_seq_hint = ~0ull; });
  // Both slots rejected: the head is rebuilt from the records, which are all still there.
  auto store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->recovery().meta_rebuilt) << store->recovery().Summary();
  EXPECT_TRUE(store->recovery().damage.empty()) << store->recovery().Summary();
  EXPECT_EQ(store->next_seq(), 3u);
  std::vector<Record> all = ReadAll(store.get());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].payload, Payload(2, 10));
}

TEST(RingStore, FindsRecordsBeyondALongDamagedStretchInAFullRing) {
  // A full ring: eight records of one segment each, so the tail (and the durable hint in the
  // meta slot) wraps round to exactly the head's offset. Three segments in the middle rot.
  // Recovery must look for intact records as far as the hint, a whole lap, not stop two
  // segments after the damage and report every durable record beyond as lost.
  port::SimFileSystem fs;
  const size_t max_payload = 4096 - kRecordHeaderBytes;
  {
    auto store = MustOpen(&fs, TinyRing());
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 8; i++) Append(store.get(), {Payload(i, max_payload)});
    ASSERT_TRUE(store->Checkpoint().ok());
  }
  for (uint64_t seg = 1; seg <= 3; seg++) {  // seqs 2, 3 and 4
    ASSERT_TRUE(fs.CorruptBytes(kPath, kDataOffset + seg * 4096 + 64, 1, 0x01).ok());
  }
  auto store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  const RecoveryReport& r = store->recovery();
  ASSERT_EQ(r.damage.size(), 1u) << r.Summary();
  EXPECT_EQ(r.damage[0].first_seq, 2u);
  EXPECT_EQ(r.damage[0].last_seq, 4u) << r.Summary();
  Position pos = r.damage[0].resume;
  for (uint64_t seq = 5; seq <= 8; seq++) {
    Record rec;
    ASSERT_TRUE(store->Read(pos, &rec).ok()) << "seq " << seq;
    EXPECT_EQ(rec.payload, Payload(seq - 1, max_payload));
    pos = rec.next;
  }
}

// What a walk from the head reads: each record's payload by seq, and the seqs reported damaged.
struct Walked {
  std::map<uint64_t, std::string> records;
  std::vector<uint64_t> damaged;
};
Walked WalkFromHead(RingStore* store) {
  Walked w;
  Position pos = store->head();
  while (pos.seq < store->next_seq()) {
    Record rec;
    Status s = store->Read(pos, &rec);
    if (s.ok()) {
      w.records[rec.seq] = rec.payload;
    } else {
      EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
      if (s.code() != Code::kCorruption || rec.next.seq <= pos.seq) break;  // stuck
      for (uint64_t seq = pos.seq; seq < rec.next.seq; seq++) w.damaged.push_back(seq);
    }
    pos = rec.next;
  }
  return w;
}

TEST(RingStore, AHeadMoreThanARingBehindItsRecordsNeverHandsOutADurableSeqAgain) {
  // One 1000-byte record per batch (two per 4 KiB segment): seqs 1..16 fill the ring once and
  // are acknowledged; seqs 17..20 reuse segments 0 and 1, and one batch of seqs 21..23 goes to
  // the start of segment 2. Then both meta slots are rewritten (valid CRCs) with head seq 5 at
  // an offset inside seq 22: a head from the first lap, where the second lap has written since.
  // From there recovery resyncs to the first lap's seq 7 (segment 3) and the chain runs round
  // past its own start. Cut where the walk stops, seq 23, durable, would be given out again,
  // and a read would find the old record instead of the new one.
  port::SimFileSystem fs;
  const uint64_t seg2 = kDataOffset + 2 * 4096;
  {
    auto store = MustOpen(&fs, TinyRing());
    ASSERT_NE(store, nullptr);
    for (uint64_t seq = 1; seq <= 16; seq++) Append(store.get(), {Payload(seq, 1000)});
    AcknowledgeAll(store.get());
    for (uint64_t seq = 17; seq <= 20; seq++) Append(store.get(), {Payload(seq, 1000)});
    auto batch = Append(store.get(), {Payload(21, 1000), Payload(22, 1000), Payload(23, 1000)});
    ASSERT_TRUE(batch[2].ok() && *batch[2] == 23u);
    AcknowledgeAll(store.get());
  }
  EditMetaSlots(&fs, [&](Meta* m) {
    m->head_seq = 5;
    m->head_offset = seg2 + 1032 + 100;  // seq 22 starts at seg2 + 1032
  });
  std::vector<std::string> fresh = {Payload(24, 300)};
  {
    auto store = MustOpen(&fs, TinyRing());
    ASSERT_NE(store, nullptr);
    const RecoveryReport& r = store->recovery();
    ASSERT_EQ(r.damage.size(), 1u) << r.Summary();
    EXPECT_EQ(r.damage[0].first_seq, 5u);
    EXPECT_EQ(r.damage[0].last_seq, 6u);
    EXPECT_NE(r.damage[0].what.find("more than a whole ring"), std::string::npos)
        << r.Summary();
    EXPECT_EQ(r.next_seq, 24u) << r.Summary();
    auto results = Append(store.get(), fresh);
    ASSERT_TRUE(results[0].ok()) << results[0].status().ToString();
    EXPECT_EQ(*results[0], 24u);
    Walked w = WalkFromHead(store.get());
    EXPECT_EQ(w.damaged, (std::vector<uint64_t>{5, 6}));
    ASSERT_EQ(w.records.size(), 18u);  // 7..24
    EXPECT_EQ(w.records[23], Payload(23, 1000));
    EXPECT_EQ(w.records[24], fresh[0]);
    ASSERT_TRUE(store->Checkpoint().ok());
  }
  // The next recovery starts from the head this one persisted and finds the same records.
  auto store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  Walked w = WalkFromHead(store.get());
  EXPECT_EQ(w.damaged, (std::vector<uint64_t>{5, 6})) << store->recovery().Summary();
  ASSERT_EQ(w.records.size(), 18u) << store->recovery().Summary();
  for (uint64_t seq = 7; seq <= 23; seq++) EXPECT_EQ(w.records[seq], Payload(seq, 1000));
  EXPECT_EQ(w.records[24], fresh[0]);
}

// A batch is written from the producers' payloads: what the store keeps between batches is
// its headers and write list, never a copy of the payloads (resident memory, issue 6). The
// writer frees even that when idle; the next batch must not notice.
TEST(RingStore, KeepsNoCopyOfTheBatchsPayloadsAndAppendsCorrectlyAfterReleasingItsLists) {
  port::SimFileSystem fs;
  auto store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  auto first = Append(store.get(), {Payload(1, 900), Payload(2, 900)});
  ASSERT_TRUE(first[0].ok() && first[1].ok());
  const size_t held = store->ReleaseBatchLists();
  EXPECT_GE(held, 2 * kRecordHeaderBytes);  // the two headers
  EXPECT_LT(held, 900u) << "the store kept a copy of a payload";
  EXPECT_EQ(store->ReleaseBatchLists(), 0u);  // nothing left to release
  auto second = Append(store.get(), {Payload(3, 900)});
  ASSERT_TRUE(second[0].ok());
  EXPECT_EQ(second[0].value(), 3u);
  fs.PowerCut(1);
  store = MustOpen(&fs, TinyRing());
  ASSERT_NE(store, nullptr);
  std::vector<Record> all = ReadAll(store.get());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].payload, Payload(1, 900));
  EXPECT_EQ(all[1].payload, Payload(2, 900));
  EXPECT_EQ(all[2].payload, Payload(3, 900));
}

}  // namespace
}  // namespace edge::ring
