// GapReporter: tells the broker which seq ranges drop_oldest dropped (architecture promise 4,
// "no silent loss"), on the route named by ring.gap_report_route.
//
// A report is an ordinary ring record on that route, so it travels like any payload: durable
// first, then published with confirms, re-sent after a reconnect. The ranges stay pending in
// the ring's meta slot until the broker has settled the report (confirmed it, or it went to the
// dead-letter file); only then are they marked reported, through the report's last seq (a later
// drop may have extended that range meanwhile: the rest stays pending). A report that is itself
// dropped before that (the ring still full, the broker still away) leaves its ranges pending,
// and the next report covers them together with the lost report's own seq. One report is in
// flight at a time. After a restart, ranges whose report was not yet settled are reported
// again: reports are at-least-once, like records; the ranges, not the message id, identify one.
//
// The report (docs/PROTOCOL.md, "Gap reports"): content type application/json, header
// edge-agent-report: gaps, and
//   {"report": "gaps", "agent_id": "gw-17", "reason": "ring full under drop_oldest",
//    "gaps": [{"first_seq": 1, "last_seq": 4096, "records": 4096}], "records": 4096,
//    "approximate": false, "dropped_total": 4096}
// approximate: more than kMaxGaps separate ranges had to be merged, so the ranges also cover
// some seqs that were delivered (never the other way round). dropped_total counts every record
// this ring ever dropped, reported or not.
//
// Thread-safety: Tick from one thread (the daemon's loop); Appended from the ring's writer.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "agent/ring/format.h"
#include "port/status.h"

namespace edge::daemon {

class GapReporter {
 public:
  GapReporter(std::string agent_id, std::string route);

  struct Input {
    // Read settled_below before the gaps: a report dropped after the gaps were read could
    // otherwise look settled (the publisher's settled prefix moves past dropped records).
    uint64_t settled_below = 0;     // every seq below it is settled (publisher)
    std::vector<ring::Gap> pending;  // RingStore::PendingGaps
    bool approximate = false;        // RingStore::PendingGapsApproximate
    uint64_t dropped_total = 0;      // RingStats::dropped_total
  };
  struct Action {
    std::string append;         // an encoded envelope to append to the ring, or empty
    uint64_t mark_through = 0;  // RingStore::MarkGapsReportedThrough(it) when > 0
    std::string log;            // one line for the log, or empty
    bool warning = false;       // log it as a warning
  };
  // Decides what to do now; the caller carries it out (append, mark, log).
  Action Tick(const Input& in, uint64_t now_ms);
  // The outcome of the append Tick asked for (the ring's append callback).
  void Appended(const Result<uint64_t>& seq);

 private:
  enum class State { kIdle, kAppending, kInFlight };

  const std::string agent_id_;
  const std::string route_;
  std::mutex mu_;  // guards the fields below (Tick vs Appended)
  State state_ = State::kIdle;
  uint64_t report_seq_ = 0;   // kInFlight: the report's own seq
  uint64_t through_ = 0;      // kAppending / kInFlight: the last dropped seq it covers
  std::string ranges_text_;   // kAppending / kInFlight: its ranges, for the log
  std::string append_error_;  // why the last append failed, logged once by the next Tick
};

}  // namespace edge::daemon
