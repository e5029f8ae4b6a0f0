// ConfirmTracker: what the publisher has settled, for producers that asked for `confirmed`.
//
// The publisher reports every record as it leaves its confirm window, in seq order
// (Publisher::SetOutcomeObserver): delivered (basic.ack) or not (returned/nacked: dead-letter
// file). Most records have no producer waiting, so the tracker keeps no per-record state for
// delivered ones: a watermark (every seq below settled_below() has been settled) plus a bounded
// map of the rare not-delivered ranges. A seq the publisher skipped (a later seq was settled
// first: the record was dropped under drop_oldest or lost to ring damage) counts as not
// delivered.
//
// Settlements may arrive before the intake learned the seq of its own append (the publisher
// can read a record as soon as its batch is durable, before the writer thread's callback has
// reached the intake's loop), which is why outcomes are looked up by seq after the fact rather
// than pushed to waiters.
//
// Thread-safety: all methods may be called from any thread; mu_ guards all state.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <string>

namespace edge::intake {

class ConfirmTracker {
 public:
  // settled_below: seqs below it are settled before this tracker exists (the ring's head).
  explicit ConfirmTracker(uint64_t settled_below) : settled_below_(settled_below) {}

  // The publisher settled seq. Returns true when a waiter may now be answerable (some waiting
  // seq is <= seq), i.e. when the loop should be woken. Calls for seqs below the watermark
  // (repeats) change nothing.
  bool Settle(uint64_t seq, bool delivered, const std::string& detail);

  // The smallest seq a producer waits on (kNoWaiter when none): Settle only asks for a wake-up
  // when it reaches it, so the loop is not woken once per published record.
  static constexpr uint64_t kNoWaiter = std::numeric_limits<uint64_t>::max();
  void SetLowestWaiter(uint64_t seq);

  enum class Outcome { kPending, kDelivered, kNotDelivered };
  // What happened to seq; *detail says why for kNotDelivered.
  Outcome Lookup(uint64_t seq, std::string* detail) const;

  uint64_t settled_below() const;

  // Not-delivered ranges remembered at most; beyond it the oldest are forgotten (a waiter on a
  // forgotten one would be told `confirmed`: needs this many failures between its record being
  // durable and the intake's loop seeing it, which is microseconds).
  static constexpr size_t kMaxRememberedRanges = 4096;

 private:
  struct Range {
    uint64_t last = 0;
    std::string detail;
  };
  void RememberLocked(uint64_t first, uint64_t last, const std::string& detail);

  mutable std::mutex mu_;
  // Guarded by mu_:
  uint64_t settled_below_;
  uint64_t lowest_waiter_ = kNoWaiter;
  std::map<uint64_t, Range> not_delivered_;  // first seq -> range; disjoint
};

}  // namespace edge::intake
