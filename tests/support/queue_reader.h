// QueueReader: reads a queue of the test broker the way a consumer application does: plaintext
// AMQP to the BrokerFixture node, basic.consume with manual acknowledgements and a prefetch,
// one message at a time. A message is acknowledged once it was handed out, so a connection
// lost mid-way makes the broker redeliver what was in flight: a reader may see a message twice,
// never miss one.
//
// Thread-safety: one thread uses a reader (different readers are independent).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "agent/amqp/connection.h"
#include "port/status.h"
#include "tests/support/broker_fixture.h"
#include "tests/support/consumed_message.h"

namespace edge::test {

class QueueReader {
 public:
  // Connects as the fixture's PLAIN user (password: its current one) and starts consuming.
  static Result<std::unique_ptr<QueueReader>> Open(const BrokerFixture& broker,
                                                   const std::string& password,
                                                   const std::string& queue);

  // The next message; kTimeout when none arrived within timeout. Any other error means the
  // connection failed: open a new reader.
  Result<ConsumedMessage> Next(std::chrono::milliseconds timeout);

 private:
  explicit QueueReader(std::unique_ptr<amqp::Connection> c) : conn_(std::move(c)) {}
  std::unique_ptr<amqp::Connection> conn_;
};

}  // namespace edge::test
