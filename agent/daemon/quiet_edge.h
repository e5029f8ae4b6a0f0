// QuietEdge: notices the moment the agent stops working after a stretch of work, so that the
// daemon can give freed memory back once per burst (port::ReleaseFreeMemory) instead of on
// every tick or never.
//
// Fed once per tick with two monotonic counters: records appended to the ring (intake) and
// records confirmed by the broker (publisher). It fires when either counter moved during the
// previous tick and did not move during this one. The two are separate on purpose: while a
// backlog drains, confirms keep moving for minutes after the intake stopped, and the memory
// the intake burst left behind should go when the intake stops, not when the drain ends.
//
// Thread-safety: none; the daemon's main thread owns it.
#pragma once

#include <cstdint>

namespace edge::daemon {

class QuietEdge {
 public:
  // Returns true when the appended or the confirmed counter has just stopped moving.
  // The first call only records the counters.
  bool Update(uint64_t appended, uint64_t confirmed) {
    bool appending = started_ && appended != appended_;
    bool confirming = started_ && confirmed != confirmed_;
    bool fire = (was_appending_ && !appending) || (was_confirming_ && !confirming);
    started_ = true;
    appended_ = appended;
    confirmed_ = confirmed;
    was_appending_ = appending;
    was_confirming_ = confirming;
    return fire;
  }

 private:
  bool started_ = false;
  uint64_t appended_ = 0;
  uint64_t confirmed_ = 0;
  bool was_appending_ = false;
  bool was_confirming_ = false;
};

}  // namespace edge::daemon
