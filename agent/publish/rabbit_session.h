// RabbitSession / RabbitConnector: BrokerSession over a real rabbitmq-c connection
// (amqp::Connection: TLS through the mbedTLS pump, login, channel 1).
//
// Connect declares the topology and puts the channel in confirm mode (confirm.select).
// NextEvent reads frames with amqp_simple_wait_frame_noblock, which also sends heartbeats when
// due; it checks amqp_frames_enqueued/amqp_data_in_buffer first, because amqp_basic_publish may
// have read frames into rabbitmq-c's internal queue, where waiting on the socket would not see
// them. basic.return is followed by the returned message (header and body frames), read with
// amqp_read_message for its message_id.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/amqp/connection.h"
#include "agent/publish/broker_session.h"
#include "agent/publish/topology.h"

namespace edge::publish {

// Thread-safety: Connect runs on the publisher thread; SetEndpoints (SIGHUP reload: new
// password, certificates) may come from any thread and applies from the next Connect on.
class RabbitConnector final : public BrokerConnector {
 public:
  RabbitConnector(std::vector<amqp::Endpoint> endpoints, Topology topology)
      : endpoints_(std::move(endpoints)), topology_(std::move(topology)) {}
  size_t endpoint_count() const override;
  std::string endpoint_name(size_t i) const override;
  Result<std::unique_ptr<BrokerSession>> Connect(size_t i, amqp::AmqpFailure* failure) override;
  // Replaces the endpoints (same count and order, or the publisher's index may skip one).
  void SetEndpoints(std::vector<amqp::Endpoint> endpoints);

 private:
  mutable std::mutex mu_;
  std::vector<amqp::Endpoint> endpoints_;  // guarded by mu_
  Topology topology_;
};

class RabbitSession final : public BrokerSession {
 public:
  explicit RabbitSession(std::unique_ptr<amqp::Connection> conn) : conn_(std::move(conn)) {}
  Status Publish(const OutgoingMessage& message) override;
  Status NextEvent(int timeout_ms, BrokerEvent* event) override;
  const amqp::AmqpFailure& failure() const override { return failure_; }
  std::string description() const override { return conn_->description(); }

 private:
  Status Lost(const Status& s);
  std::unique_ptr<amqp::Connection> conn_;
  amqp::AmqpFailure failure_;
  uint64_t publishes_since_release_ = 0;
};

}  // namespace edge::publish
