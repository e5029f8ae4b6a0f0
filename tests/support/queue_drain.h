// DrainQueue: reads a queue to the end with a plain AMQP consumer, for reliability suites.
//
// Connects with rabbitmq-c over plaintext (straight to the broker, never through a fault
// proxy), consumes with manual acks (each message acked after it was recorded) and returns once
// `want` distinct message ids arrived and then nothing more came for `quiet` (so the late
// duplicates are in too), or `bound` passed (then the caller's count check fails and says so).
// The queue must exist (the agent declared it); it is not declared here, so quorum and classic
// queues alike can be read.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "port/status.h"
#include "tests/support/consumed_message.h"

namespace edge::test {

struct DrainOptions {
  uint16_t port = 0;  // the broker's plaintext AMQP port on 127.0.0.1
  std::string user;
  std::string password;
  std::string queue;
  size_t want = 0;  // distinct message ids to wait for
  std::chrono::milliseconds quiet{3000};
  std::chrono::milliseconds bound{300000};
};

// Appends every delivery (duplicates included, in delivery order) to *out.
Status DrainQueue(const DrainOptions& options, std::vector<ConsumedMessage>* out);

}  // namespace edge::test
