// Allocator settings for a small daemon that runs for months (glibc malloc).
//
// Why: measured with scripts/bench-footprint.sh (docs/BENCHMARKS.md, footprint), glibc's
// defaults make the agent's resident memory depend on its history rather than its load:
// - every thread that allocates gets its own arena (up to 8 per core), and freed memory stays
//   in the arena it came from;
// - the mmap threshold adapts upwards: once a 1 MiB batch buffer or a 256 KiB read-ahead is
//   freed, later buffers of that size come from the heap and are never given back.
// So a burst of 4 KiB payloads at full rate left several MiB resident for good.
//
// LimitAllocatorFootprint caps the arenas at 2 (the ring writer and the publisher are the hot
// allocating threads), fixes the mmap threshold at 128 KiB (large buffers are mapped and
// returned on free) and trims the heap top above 256 KiB. An operator's MALLOC_ARENA_MAX,
// MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or GLIBC_TUNABLES in the environment wins.
//
// REQUIRES: called once, before any thread is started.
#pragma once

#include <string>

namespace edge::port {

// Returns a one-line description of what was set (for the debug log).
std::string LimitAllocatorFootprint();

// Gives the free memory of every arena back to the kernel (glibc malloc_trim(0)): not only the
// top of each heap, which the trim threshold already handles, but whole free pages in the
// middle of an arena. Why: a burst leaves many small freed chunks (4 KiB payloads, their
// envelopes) scattered through the ring writer's arena; they are free, but their pages stay
// resident until reused. Measured with scripts/bench-footprint.sh: ~1-2 MiB after a 4 KiB
// burst. Call it when the agent goes quiet (agent/daemon/quiet_edge.h), not per operation:
// it takes each arena's lock and walks its free lists, and pages given back are faulted in
// again on reuse. Returns true when memory was released. Thread-safe.
bool ReleaseFreeMemory();

}  // namespace edge::port
