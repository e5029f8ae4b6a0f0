// Ring (the threaded front of RingStore): when its writer thread checkpoints the head.
// On SimFileSystem; waits are bounded polls on a condition, never a timing assertion.
#include "agent/ring/ring.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "port/sim_fs.h"

namespace edge::ring {
namespace {

constexpr char kPath[] = "/var/lib/edge-agent/ring";

bool WaitUntil(const std::function<bool()>& done) {
  for (int waited_ms = 0; waited_ms < 20000; waited_ms += 5) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

// Regression: the head was checkpointed only by time (about once a second), so a daemon that
// crashed sooner than that after each start (a crash loop) never moved its durable head, and
// every restart re-sent everything the broker had confirmed since. The time interval here is
// an hour: only the record threshold can write the meta slot.
TEST(Ring, CheckpointsTheHeadOnceAcknowledgementsRunAheadByTheRecordThreshold) {
  port::SimFileSystem fs(3);
  RingOptions o;
  o.segment_bytes = 64 << 10;
  o.file_bytes = kDataOffset + 8 * (64 << 10);
  o.checkpoint_every_records = 4;
  o.checkpoint_interval_ms = 3600 * 1000;
  {
    auto opened = Ring::Open(&fs, kPath, o);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<Ring> ring = std::move(opened).value();
    for (int i = 0; i < 10; i++) ASSERT_TRUE(ring->Append("record " + std::to_string(i)).ok());
    const uint64_t meta_writes = ring->store().stats().meta_writes;

    // Three records acknowledged: below the threshold, nothing is asked of the writer.
    Record rec;
    ASSERT_TRUE(ring->store().Read(ring->store().head(), &rec).ok());
    for (int i = 0; i < 2; i++) ASSERT_TRUE(ring->store().Read(rec.next, &rec).ok());
    ASSERT_TRUE(ring->Acknowledge(rec.next).ok());
    EXPECT_EQ(ring->store().head().seq, 4u);

    // Two more: five past the last checkpoint (head seq 1), so the writer writes one.
    for (int i = 0; i < 2; i++) ASSERT_TRUE(ring->store().Read(rec.next, &rec).ok());
    ASSERT_TRUE(ring->Acknowledge(rec.next).ok());
    EXPECT_TRUE(WaitUntil([&] { return ring->store().stats().meta_writes > meta_writes; }));
    EXPECT_FALSE(ring->store().CheckpointPending());

    // A power cut now: recovery starts from the checkpointed head.
    fs.CrashAfterOps(0);
  }
  fs.PowerCut(11);
  auto store = RingStore::OpenReadOnly(&fs, kPath);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->head().seq, 6u);
  EXPECT_EQ((*store)->next_seq(), 11u);
}

}  // namespace
}  // namespace edge::ring
