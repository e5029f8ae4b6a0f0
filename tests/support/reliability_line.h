// The one line each reliability suite prints when it finishes; docs/RELIABILITY.md is generated
// from these lines (scripts/reliability-report.sh), never written by hand.
//
// Format (one line, stdout, fields in this order, values without spaces except the quoted ones):
//   RELIABILITY suite=<id> family=<ctest label> count=<N> records=<N> lost=<N> duplicates=<N>
//               injects="<what was done to the agent>" reproduce="<command>"
// count: how many times the fault was injected (kills, crash images, cuts, fuzz executions).
// records: how many records the suite handed to the agent and checked at the far end.
// lost: records acknowledged durable that were missing afterwards; any value but 0 fails the suite.
// duplicates: records seen more than once at the consumer (at-least-once allows them; each suite
// checks its own bound, e.g. the re-send range after each reconnect).
#pragma once

#include <cstdint>
#include <string>

namespace edge::test {

struct ReliabilityLine {
  std::string suite;   // short id, e.g. "daemon-kill9"
  std::string family;  // ctest label, e.g. "torture"
  std::uint64_t count = 0;
  std::uint64_t records = 0;
  std::uint64_t lost = 0;
  std::uint64_t duplicates = 0;
  std::string injects;    // plain words; no double quotes
  std::string reproduce;  // the command that reruns exactly this suite
};

// Prints the line and flushes, so it survives a later crash of the test binary.
void PrintReliabilityLine(const ReliabilityLine& line);

}  // namespace edge::test
