// BrokerSession: the publisher's view of one broker connection with a channel in confirm mode.
//
// The seam between the publisher's logic (confirm window, re-send, dead-lettering, back-off)
// and rabbitmq-c: RabbitSession implements it over a real connection; tests drive the
// publisher with a fake that can fail, nack, return or drop at chosen moments.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/amqp/close_reason.h"
#include "port/status.h"

namespace edge::publish {

// One message as it goes on the wire: always persistent (delivery_mode 2) and mandatory.
struct OutgoingMessage {
  std::string exchange;
  std::string routing_key;
  std::string message_id;  // "<agent_id>:<seq>"
  std::string content_type;
  uint64_t timestamp_s = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // string headers
  std::string_view body;
};

struct BrokerEvent {
  enum class Kind {
    kAck,        // basic.ack: delivery_tag (and all before it when multiple)
    kNack,       // basic.nack: the broker could not take it (queue error, reject-publish)
    kReturn,     // basic.return: unroutable; arrives before the ack of the same message
    kBlocked,    // connection.blocked: stop publishing (broker low on memory or disk)
    kUnblocked,  // connection.unblocked
  };
  Kind kind = Kind::kAck;
  uint64_t delivery_tag = 0;
  bool multiple = false;
  // kReturn only: the broker's reason and the returned message's id.
  uint16_t reply_code = 0;
  std::string reply_text;
  std::string message_id;
  // kBlocked only.
  std::string reason;
};

class BrokerSession {
 public:
  virtual ~BrokerSession() = default;
  // basic.publish; the first message of a session gets delivery tag 1, then 2, 3, ...
  // A non-OK status means the session is gone (see failure()).
  virtual Status Publish(const OutgoingMessage& message) = 0;
  // Waits up to timeout_ms (0: just look) for the next broker event. kTimeout when none came;
  // any other error means the session is gone (see failure()). Also services heartbeats, so
  // it must be called at least every heartbeat/2.
  virtual Status NextEvent(int timeout_ms, BrokerEvent* event) = 0;
  // Why the session failed, classified (retry, route fatal, auth refused).
  virtual const amqp::AmqpFailure& failure() const = 0;
  // "amqps://host:port/vhost (TLSv1.2 ...)": safe to log.
  virtual std::string description() const = 0;
};

// Opens sessions; endpoint i of endpoint_count() (failover goes round them).
class BrokerConnector {
 public:
  virtual ~BrokerConnector() = default;
  virtual size_t endpoint_count() const = 0;
  virtual std::string endpoint_name(size_t i) const = 0;
  // Connects, logs in, declares the topology, opens a channel in confirm mode.
  virtual Result<std::unique_ptr<BrokerSession>> Connect(size_t i, amqp::AmqpFailure* failure) = 0;
};

}  // namespace edge::publish
