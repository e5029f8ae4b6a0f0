// A seeded, single-threaded workload against RingStore on a SimFileSystem: the publisher and
// the producers of the daemon squeezed into one deterministic loop, recording every promise the
// store makes into an Oracle.
//
// Steps (chosen from the step seed): AppendBatch of 1..8 payloads (0 bytes up to a bit over the
// largest record, so too_large happens), a consumer that reads from the head and acknowledges a
// prefix of what it read, Checkpoint, MarkGapsReported. Rings are tiny so that wrap-around,
// segment reuse, ring_full and drop_oldest all happen within a few dozen steps.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "agent/ring/ring_store.h"
#include "port/sim_fs.h"
#include "tests/powercut/powercut_oracle.h"

namespace edge::powercut {

constexpr char kRingPath[] = "/data/ring";

struct WorkloadSpec {
  std::string family;  // names the generator, for replay messages
  uint64_t seed = 0;
  ring::RingOptions options;
  int steps = 0;

  bool drops_allowed() const { return options.full_policy == ring::FullPolicy::kDropOldest; }
  std::string Describe() const;
};

// 8 segments of 4 KiB; a few dozen steps. Policy from the seed.
WorkloadSpec SmallSpec(uint64_t seed, int steps);
// 8 segments of 16 KiB, or a 1 MiB ring of 16 KiB segments; a few hundred steps.
WorkloadSpec LargerSpec(uint64_t seed, int steps);

// What a run saw of injected failures (FailSyncs / FailWrites), beyond the oracle.
struct RunStats {
  int failed_batches = 0;  // AppendBatch calls that returned non-OK without a crash
  int failed_checkpoints = 0;
};

// What the workloads exercised, summed over the process (the test is single-threaded): proof
// that wrap-around, ring_full, drop_oldest and too_large really happen.
struct Coverage {
  uint64_t appended = 0;
  uint64_t too_large = 0;
  uint64_t ring_full = 0;
  uint64_t dropped = 0;  // records reported dropped (drop_oldest)
  uint64_t wraps = 0;    // batches written at a lower offset than the one before
  uint64_t acked = 0;
  uint64_t failed_batches = 0;
  uint64_t torn_tails = 0;  // recoveries that cut a torn tail
  std::string ToString() const;
};
Coverage& GlobalCoverage();

class WorkloadRun {
 public:
  // All pointers must outlive the run. context prefixes every finding (for replay).
  WorkloadRun(const WorkloadSpec& spec, port::SimFileSystem* fs, Oracle* oracle, Findings* findings,
              std::string context);
  ~WorkloadRun();

  // Opens (creating when missing) the ring. False when the disk crashed or opening failed;
  // a failure that is neither is a finding.
  bool Open();
  // Runs n steps drawn from step_seed; stops early when the disk crashes.
  void Run(int n, uint64_t step_seed);
  // Drops the store (as a process exit would: no final checkpoint).
  void Close() { store_.reset(); }

  // Reads to the tail, acknowledges everything, checkpoints and appends one payload: the
  // store must still work (after an injected failure too). A failure is a finding.
  void ProveStillWorking();

  ring::RingStore* store() { return store_.get(); }
  const RunStats& stats() const { return stats_; }

 private:
  void AppendStep(uint64_t r);
  void ConsumeStep(uint64_t r);
  uint32_t PayloadSize(uint64_t r) const;
  bool Crashed() const { return fs_->crashed(); }

  WorkloadSpec spec_;
  port::SimFileSystem* fs_;
  Oracle* oracle_;
  Findings* findings_;
  std::string context_;
  std::unique_ptr<ring::RingStore> store_;
  uint64_t rng_ = 0;
  uint64_t last_tail_offset_ = 0;
  // The consumer's read-ahead, kept across steps as the publisher keeps it.
  ring::RingStore::ReadBuffer read_buffer_;
  RunStats stats_;
};

}  // namespace edge::powercut
