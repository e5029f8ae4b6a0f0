// What a reliability suite checks at the far end: the messages a consumer read from the broker
// against the records the agent acknowledged durable.
//
//   lost          durable records with no delivery at all (must be 0: promise 2)
//   duplicates    deliveries of a seq after its first (allowed: at-least-once, promise 3)
//   unexpected    deliveries whose message_id is not "<agent_id>:<seq>" of a durable record
//   corrupt       deliveries whose body, x-edge-route or x-edge-seq differ from the record
//   out_of_order  first deliveries of a route that came after a later seq of that route
// The first few problems are described in `problems`, for the test's failure message.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/support/consumed_message.h"

namespace edge::test {

struct ExpectedRecord {
  std::string route;
  std::string payload;
};

struct DeliveryReport {
  uint64_t records = 0;    // durable records expected
  uint64_t delivered = 0;  // deliveries read, duplicates included
  uint64_t lost = 0;
  uint64_t duplicates = 0;
  uint64_t unexpected = 0;
  uint64_t corrupt = 0;
  uint64_t out_of_order = 0;
  std::vector<std::string> problems;  // at most a few, described
};

// expected: seq -> what the agent acknowledged durable for it.
DeliveryReport CheckDeliveries(const std::string& agent_id,
                               const std::map<uint64_t, ExpectedRecord>& expected,
                               const std::vector<ConsumedMessage>& got);

}  // namespace edge::test
