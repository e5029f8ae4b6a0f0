// The crash-simulation test of the ring: run seeded workloads on SimFileSystem, cut the power at
// every mutating I/O point (small workloads) or at random points (larger ones), reboot each
// crash image several ways, and check every promise of RingStore (see powercut_oracle.h).
//
// Image budget: EDGE_POWERCUT_IMAGES (default 100000; 10000 when EDGE_UNDER_QEMU=1), shared
// between the tests below in fixed proportions. Ends with one line on stdout:
//   powercut: images=N acked_lost=0 corrupt=0 reused_seq=0
// and the RELIABILITY line (tests/support/reliability_line.h).
// A failure prints its image as "<family> workload seed=W crash_after=K cut=C"; replay one with
//   EDGE_POWERCUT_REPLAY=<family>:<W>:<K>:<C> ring_powercut_test --gtest_filter='*Replay*'
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "agent/ring/ring_store.h"
#include "port/sim_fs.h"
#include "tests/powercut/powercut_oracle.h"
#include "tests/powercut/powercut_workload.h"
#include "tests/support/reliability_line.h"

namespace edge::powercut {
namespace {

using port::SimFaultMix;
using port::SimFileSystem;

// Totals of this process, for the summary line.
struct Tally {
  uint64_t images = 0;
  Findings findings;
};

Tally& GlobalTally() {
  static Tally tally;
  return tally;
}

class SummaryLine : public ::testing::Environment {
 public:
  void TearDown() override {
    const Tally& t = GlobalTally();
    std::printf("powercut: images=%llu acked_lost=%llu corrupt=%llu reused_seq=%llu\n",
                static_cast<unsigned long long>(t.images),
                static_cast<unsigned long long>(t.findings.acked_lost),
                static_cast<unsigned long long>(t.findings.corrupt),
                static_cast<unsigned long long>(t.findings.reused_seq));
    std::fflush(stdout);
    test::PrintReliabilityLine({.suite = "ring-powercut",
                                .family = "powercut",
                                .count = t.images,
                                .records = t.findings.records_checked,
                                .lost = t.findings.acked_lost + t.findings.corrupt,
                                .duplicates = 0,
                                .injects = "power cut at every or a random mutating I/O of the "
                                           "ring (torn, reordered, zeroed, garbage sectors), "
                                           "then recovery",
                                .reproduce = "EDGE_POWERCUT_IMAGES=100000 ctest -L powercut -R "
                                             "RingPowerCut"});
  }
};

const auto* const kSummaryLine = ::testing::AddGlobalTestEnvironment(new SummaryLine);

uint64_t ImageBudget() {
  if (const char* v = std::getenv("EDGE_POWERCUT_IMAGES")) return std::strtoull(v, nullptr, 10);
  const char* qemu = std::getenv("EDGE_UNDER_QEMU");
  return qemu != nullptr && std::strcmp(qemu, "1") == 0 ? 10000 : 100000;
}

uint64_t Share(double fraction) {
  return std::max<uint64_t>(1,
                            static_cast<uint64_t>(static_cast<double>(ImageBudget()) * fraction));
}

uint64_t Mix(uint64_t a, uint64_t b, uint64_t c = 0) {
  uint64_t z = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull ^
               (c + 0x8cb92ba72f3d8dd7ull) * 0x94d049bb133111ebull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The fault mix of a power cut, from its seed: mostly the default mix (old, new, zeros,
// garbage), sometimes only drop-or-keep (reordering without tearing), sometimes mostly garbage.
SimFaultMix MixForCut(uint64_t cut_seed) {
  switch (cut_seed % 8) {
    case 0:
    case 1:
      return SimFaultMix::DropOrKeep();
    case 2:
      return SimFaultMix{1, 1, 1, 4, 1, 1};
    default:
      return SimFaultMix();
  }
}

std::string Context(const WorkloadSpec& spec, int64_t crash_after, uint64_t cut) {
  return spec.family + " workload seed=" + std::to_string(spec.seed) +
         " crash_after=" + std::to_string(crash_after) + " cut=" + std::to_string(cut);
}

// Reboots a copy of fs with a power cut from cut_seed, reopens the ring, checks the oracle.
void CheckImage(const SimFileSystem& fs, uint64_t cut_seed, const WorkloadSpec& spec,
                const Oracle& oracle, const std::string& context, Findings* findings) {
  std::unique_ptr<SimFileSystem> image = fs.Clone();
  image->SetFaultMix(MixForCut(cut_seed));
  image->PowerCut(cut_seed);
  auto store = ring::RingStore::Open(image.get(), kRingPath, spec.options);
  if (!store.ok()) {
    findings->Add(&Findings::corrupt, context,
                  "reopening after the power cut failed: " + store.status().ToString());
    return;
  }
  GlobalCoverage().torn_tails += (*store)->recovery().torn_tail;
  oracle.CheckRecovered(store->get(), spec.drops_allowed(), context, findings);
}

// A run of spec until the crash point (crash_after < 0: to the end), leaving fs as it was.
void RunUntilCrash(const WorkloadSpec& spec, int64_t crash_after, SimFileSystem* fs, Oracle* oracle,
                   Findings* findings) {
  fs->CrashAfterOps(crash_after);
  WorkloadRun run(spec, fs, oracle, findings, Context(spec, crash_after, 0) + " (before the cut)");
  if (run.Open()) run.Run(spec.steps, Mix(spec.seed, 1));
}

int64_t CountOps(const WorkloadSpec& spec, Findings* findings) {
  SimFileSystem fs(spec.seed);
  Oracle oracle(spec.seed);
  RunUntilCrash(spec, -1, &fs, &oracle, findings);
  return fs.mutating_ops();
}

// Adds a test's findings to the process tally and fails the test on any violation.
void Report(const char* test, uint64_t images, const Findings& findings,
            std::chrono::steady_clock::time_point started) {
  GlobalTally().images += images;
  GlobalTally().findings.Merge(findings);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "%s: %llu images in %.1f s\n", test, static_cast<unsigned long long>(images),
               s);
  std::fprintf(stderr, "  covered so far: %s\n", GlobalCoverage().ToString().c_str());
  for (const std::string& p : findings.problems) ADD_FAILURE() << p;
  EXPECT_EQ(findings.acked_lost, 0u);
  EXPECT_EQ(findings.corrupt, 0u);
  EXPECT_EQ(findings.reused_seq, 0u);
}

TEST(RingPowerCut, KeepsEveryDurableRecordWhenPowerFailsAtEveryIoPointOfSmallWorkloads) {
  const auto started = std::chrono::steady_clock::now();
  const uint64_t budget = Share(0.40);
  constexpr int kCutsPerPoint = 3;
  Findings findings;
  uint64_t images = 0;
  for (uint64_t w = 1; images < budget; w++) {
    const WorkloadSpec spec = SmallSpec(w, 12 + static_cast<int>(w % 36));
    const int64_t total = CountOps(spec, &findings);
    // k = 0 crashes the ring's creation at its first operation; k = total cuts after the end.
    for (int64_t k = 0; k <= total && images < budget; k++) {
      SimFileSystem fs(Mix(w, k));
      Oracle oracle(spec.seed);
      RunUntilCrash(spec, k, &fs, &oracle, &findings);
      for (int c = 0; c < kCutsPerPoint; c++) {
        uint64_t cut = Mix(w, k, c);
        CheckImage(fs, cut, spec, oracle, Context(spec, k, cut), &findings);
        images++;
      }
    }
  }
  Report("every I/O point, small rings", images, findings, started);
}

TEST(RingPowerCut, KeepsEveryDurableRecordWhenPowerFailsAtRandomPointsOfLongerWorkloads) {
  const auto started = std::chrono::steady_clock::now();
  const uint64_t budget = Share(0.25);
  constexpr int kPointsPerWorkload = 6;
  constexpr int kCutsPerPoint = 6;
  Findings findings;
  uint64_t images = 0;
  for (uint64_t w = 1; images < budget; w++) {
    const WorkloadSpec spec = LargerSpec(w, 120 + static_cast<int>(w % 240));
    const int64_t total = CountOps(spec, &findings);
    for (int p = 0; p < kPointsPerWorkload && images < budget; p++) {
      int64_t k = static_cast<int64_t>(Mix(w, p, 7) % static_cast<uint64_t>(total + 1));
      SimFileSystem fs(Mix(w, k));
      Oracle oracle(spec.seed);
      RunUntilCrash(spec, k, &fs, &oracle, &findings);
      for (int c = 0; c < kCutsPerPoint; c++) {
        uint64_t cut = Mix(w, k, c);
        CheckImage(fs, cut, spec, oracle, Context(spec, k, cut), &findings);
        images++;
      }
    }
  }
  Report("random I/O points, larger rings", images, findings, started);
}

TEST(RingPowerCut, KeepsEveryDurableRecordWhenPowerFailsAgainDuringRecovery) {
  const auto started = std::chrono::steady_clock::now();
  const uint64_t budget = Share(0.20);
  constexpr int kRecoverySteps = 6;
  Findings findings;
  uint64_t images = 0;
  for (uint64_t w = 1; images < budget; w++) {
    const WorkloadSpec spec = SmallSpec(1000000 + w, 10 + static_cast<int>(w % 30));
    const int64_t total = CountOps(spec, &findings);
    const int64_t k = static_cast<int64_t>(Mix(w, 11) % static_cast<uint64_t>(total + 1));
    SimFileSystem fs(Mix(w, k));
    Oracle oracle(spec.seed);
    RunUntilCrash(spec, k, &fs, &oracle, &findings);
    const uint64_t first_cut = Mix(w, k, 1);
    std::unique_ptr<SimFileSystem> rebooted = fs.Clone();
    rebooted->SetFaultMix(MixForCut(first_cut));
    rebooted->PowerCut(first_cut);

    // Recovery, then a few steps of the next boot: learn its I/O count, then crash it at every
    // point, recovery's own meta write included, and reboot once more.
    int64_t recovery_ops;
    {
      std::unique_ptr<SimFileSystem> probe = rebooted->Clone();
      Oracle o = oracle;
      WorkloadRun run(spec, probe.get(), &o, &findings, Context(spec, k, first_cut) + " (probe)");
      if (run.Open()) run.Run(kRecoverySteps, Mix(w, 2));
      recovery_ops = probe->mutating_ops() - rebooted->mutating_ops();
    }
    for (int64_t j = 0; j <= recovery_ops && images < budget; j++) {
      std::unique_ptr<SimFileSystem> second = rebooted->Clone();
      Oracle o = oracle;
      const std::string context =
          Context(spec, k, first_cut) + " recovery_crash_after=" + std::to_string(j);
      second->CrashAfterOps(j);
      {
        WorkloadRun run(spec, second.get(), &o, &findings, context);
        if (run.Open()) run.Run(kRecoverySteps, Mix(w, 2));
      }
      for (int c = 0; c < 2; c++) {
        uint64_t cut = Mix(w, j, 100 + c);
        CheckImage(*second, cut, spec, o, context + " second_cut=" + std::to_string(cut),
                   &findings);
        images++;
      }
    }
  }
  Report("crashes during recovery", images, findings, started);
}

// A failed fdatasync (or write) in the middle of a workload: the batch it hit must fail and
// report nothing; the store must re-read the disk and keep working; and a later power cut must
// still find every record that was reported durable.
TEST(RingPowerCut, SurvivesFailedFsyncsAndWritesWithoutTrustingTheirData) {
  const auto started = std::chrono::steady_clock::now();
  const uint64_t budget = Share(0.15);
  constexpr int kCuts = 4;
  Findings findings;
  uint64_t images = 0;
  uint64_t failed_batches = 0;
  for (uint64_t w = 1; images < budget; w++) {
    const WorkloadSpec spec = w % 4 == 0 ? LargerSpec(2000000 + w, 100)
                                         : SmallSpec(2000000 + w, 16 + static_cast<int>(w % 24));
    uint64_t syncs;
    uint64_t writes;
    {
      SimFileSystem fs(spec.seed);
      Oracle oracle(spec.seed);
      RunUntilCrash(spec, -1, &fs, &oracle, &findings);
      syncs = fs.counters().syncs;
      writes = fs.counters().writes;
    }
    for (int variant = 0; variant < 3 && images < budget; variant++) {
      SimFileSystem fs(Mix(w, variant));
      const bool fail_write = variant == 2;
      const uint64_t nth = Mix(w, variant, 3) % (fail_write ? writes : syncs);
      if (fail_write) {
        fs.FailWrites(static_cast<int64_t>(nth), 1, w % 2 == 0 ? Code::kNoSpace : Code::kIoError);
      } else {
        fs.FailSyncs(static_cast<int64_t>(nth), 1);
      }
      const std::string context = spec.family + " workload seed=" + std::to_string(spec.seed) +
                                  (fail_write ? " failing write #" : " failing sync #") +
                                  std::to_string(nth);
      Oracle oracle(spec.seed);
      WorkloadRun run(spec, &fs, &oracle, &findings, context);
      if (!run.Open()) continue;
      run.Run(spec.steps, Mix(spec.seed, 1));
      failed_batches += static_cast<uint64_t>(run.stats().failed_batches);
      // Power cuts of the moment after the workload (before anything is acknowledged away),
      for (int c = 0; c < kCuts; c++) {
        uint64_t cut = Mix(w, variant, 200 + c);
        CheckImage(fs, cut, spec, oracle, context + " cut=" + std::to_string(cut), &findings);
        images++;
      }
      // then the store must still work: read all, acknowledge, checkpoint, append.
      run.ProveStillWorking();
      uint64_t cut = Mix(w, variant, 300);
      CheckImage(fs, cut, spec, oracle,
                 context + " (after more appends) cut=" + std::to_string(cut), &findings);
      images++;
    }
  }
  EXPECT_GT(failed_batches, 0u) << "no injected failure ever hit an append";
  Report("failed fsyncs and writes", images, findings, started);
}

// Media damage inside durable, unacknowledged data is not a torn tail: recovery must report it
// with its seq range, keep every record after it, and the ring must still open and append.
TEST(RingPowerCut, ReportsDamageInsideDurableDataWithItsSeqRangeAndStillOpens) {
  for (int where = 0; where < 3; where++) {
    SimFileSystem fs(5);
    WorkloadSpec spec = SmallSpec(5, 0);
    spec.options.full_policy = ring::FullPolicy::kReject;
    Oracle oracle(spec.seed);
    std::vector<uint64_t> offsets;  // offsets[seq]: where Read found it (via the previous next)
    {
      auto store = ring::RingStore::Open(&fs, kRingPath, spec.options);
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      for (int batch = 0; batch < 6; batch++) {
        std::vector<std::string> payloads;
        for (int i = 0; i < 3; i++) {
          payloads.push_back(MakePayload(spec.seed, oracle.Attempt((*store)->next_seq() + i, 300)));
        }
        std::vector<std::string_view> views(payloads.begin(), payloads.end());
        std::vector<Result<uint64_t>> results;
        ASSERT_TRUE((*store)->AppendBatch(views, &results).ok());
      }
      ASSERT_EQ((*store)->next_seq(), 19u);
      ring::Position pos = (*store)->head();
      offsets.assign(1, 0);
      while (pos.seq < (*store)->next_seq()) {
        ring::Record rec;
        ASSERT_TRUE((*store)->Read(pos, &rec).ok());
        offsets.push_back(pos.offset);
        pos = rec.next;
      }
    }
    // Seq 8 is the middle record of the third batch (seqs 7..9). Damage its payload, its
    // header, or the first record of the batch.
    const uint64_t seq = where == 2 ? 7 : 8;
    // Records of one batch are back to back, so seq's offset is exact for all but batch starts,
    // which sit at the next sector.
    uint64_t offset =
        where == 2 ? ring::AlignUp(offsets[seq], ring::kBatchAlignBytes) : offsets[seq];
    uint64_t at = where == 1 ? offset + 20 : offset + ring::kRecordHeaderBytes + 100;
    ASSERT_TRUE(fs.CorruptBytes(kRingPath, at, 1, 0x5a).ok());

    fs.PowerCut(9);
    auto store = ring::RingStore::Open(&fs, kRingPath, spec.options);
    ASSERT_TRUE(store.ok()) << "a damaged ring must still open: " << store.status().ToString();
    const ring::RecoveryReport& report = (*store)->recovery();
    ASSERT_EQ(report.damage.size(), 1u) << report.Summary();
    const ring::Damage& d = report.damage[0];
    EXPECT_LE(d.first_seq, seq) << report.Summary();
    EXPECT_GE(d.last_seq, seq) << report.Summary();
    EXPECT_GE(d.first_seq, 7u) << "damage is confined to its batch: " << report.Summary();
    EXPECT_LE(d.last_seq, 9u) << "damage is confined to its batch: " << report.Summary();
    EXPECT_EQ((*store)->next_seq(), 19u) << "records after the damage are kept";
    EXPECT_NE(report.Summary().find("DAMAGE"), std::string::npos) << report.Summary();

    // Reading: the damaged range is an error that says where to continue; the rest reads back.
    ring::Position pos = (*store)->head();
    uint64_t good = 0;
    while (pos.seq < (*store)->next_seq()) {
      ring::Record rec;
      Status s = (*store)->Read(pos, &rec);
      if (s.code() == Code::kCorruption) {
        EXPECT_GE(pos.seq, d.first_seq);
        EXPECT_LE(pos.seq, d.last_seq);
        ASSERT_EQ(rec.next.seq, d.last_seq + 1) << s.ToString();
        pos = rec.next;
        continue;
      }
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(oracle.Classify(rec.seq, rec.payload), Oracle::Match::kAttempt);
      good++;
      pos = rec.next;
    }
    EXPECT_EQ(good, 18 - (d.last_seq - d.first_seq + 1));

    // And it takes new appends with new seqs.
    std::string payload = "after damage";
    std::vector<std::string_view> views{payload};
    std::vector<Result<uint64_t>> results;
    ASSERT_TRUE((*store)->AppendBatch(views, &results).ok());
    ASSERT_TRUE(results[0].ok());
    EXPECT_EQ(*results[0], 19u);
  }
}

// Replays one image named by EDGE_POWERCUT_REPLAY=<family>:<seed>:<crash_after>:<cut> with a
// verbose account. Skipped when the variable is not set.
TEST(RingPowerCut, ReplaysOneImageFromTheEnvironment) {
  const char* v = std::getenv("EDGE_POWERCUT_REPLAY");
  if (v == nullptr) GTEST_SKIP() << "set EDGE_POWERCUT_REPLAY=<family>:<seed>:<crash_after>:<cut>";
  char family[16] = {};
  unsigned long long seed = 0, cut = 0;
  long long k = -1;
  ASSERT_EQ(std::sscanf(v, "%15[a-z]:%llu:%lld:%llu", family, &seed, &k, &cut), 4) << v;
  // Steps as the generating test chose them.
  WorkloadSpec spec = std::string(family) == "small"
                          ? SmallSpec(seed, seed >= 1000000 && seed < 2000000
                                                ? 10 + static_cast<int>((seed - 1000000) % 30)
                                                : 12 + static_cast<int>(seed % 36))
                          : LargerSpec(seed, 120 + static_cast<int>(seed % 240));
  if (const char* steps = std::getenv("EDGE_POWERCUT_REPLAY_STEPS")) spec.steps = std::atoi(steps);
  std::fprintf(stderr, "replaying %s crash_after=%lld cut=%llu\n", spec.Describe().c_str(), k, cut);
  Findings findings;
  SimFileSystem fs(Mix(seed, static_cast<uint64_t>(k)));
  Oracle oracle(spec.seed);
  RunUntilCrash(spec, k, &fs, &oracle, &findings);
  std::fprintf(stderr, "crashed=%d after %lld ops; max promised seq %llu, acked below %llu\n",
               fs.crashed(), static_cast<long long>(fs.mutating_ops()),
               static_cast<unsigned long long>(oracle.max_promised()),
               static_cast<unsigned long long>(oracle.acked_below()));
  std::unique_ptr<SimFileSystem> image = fs.Clone();
  image->SetFaultMix(MixForCut(cut));
  image->PowerCut(cut);
  auto store = ring::RingStore::Open(image.get(), kRingPath, spec.options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::fprintf(stderr, "recovery: %s\n", (*store)->recovery().Summary().c_str());
  oracle.CheckRecovered(store->get(), spec.drops_allowed(), "replay", &findings);
  for (const std::string& p : findings.problems) ADD_FAILURE() << p;
  EXPECT_TRUE(findings.clean());
}

}  // namespace
}  // namespace edge::powercut
