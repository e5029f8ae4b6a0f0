// Routes and broker topology from the config.
//
// A route is a name producers use; it maps to an exchange and a routing key. The topology is
// what the agent declares on the broker at every connect (idempotent in RabbitMQ when the
// arguments match; a mismatch is 406 PRECONDITION_FAILED, reported as fatal for the route).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/amqp/connection.h"
#include "port/status.h"

namespace edge::publish {

struct Route {
  std::string name;
  std::string exchange;     // "" = the default exchange (routing key = queue name)
  std::string routing_key;
  std::string content_type = "application/octet-stream";  // when the producer gives none
};

enum class DeclareMode {
  kDeclare,  // declare exchanges, queues and bindings (creating them when missing)
  kPassive,  // only check that they exist (broker managed elsewhere); missing = fatal
  kNone,     // declare nothing
};

struct ExchangeSpec {
  std::string name;
  std::string type = "direct";  // direct, topic, fanout, headers
  bool durable = true;
};

struct QueueSpec {
  std::string name;
  bool durable = true;
  bool quorum = false;                  // x-queue-type=quorum (replicated, delivery limit)
  std::string dead_letter_exchange;     // x-dead-letter-exchange
  std::string dead_letter_routing_key;  // x-dead-letter-routing-key
  int64_t max_length = 0;               // x-max-length (0 = unbounded)
  std::string overflow;                 // x-overflow: drop-head, reject-publish, ...
  int64_t message_ttl_ms = 0;           // x-message-ttl (0 = none)
  int64_t delivery_limit = 0;           // x-delivery-limit (quorum queues; 0 = broker default)
};

struct BindingSpec {
  std::string queue;
  std::string exchange;
  std::string routing_key;
};

struct Topology {
  DeclareMode mode = DeclareMode::kDeclare;
  std::vector<ExchangeSpec> exchanges;
  std::vector<QueueSpec> queues;
  std::vector<BindingSpec> bindings;
};

// Declares (or checks) the topology on conn's channel. The Status names the object and carries
// the broker's reply ("queue 'jobs': 406 PRECONDITION_FAILED - inequivalent arg ...").
Status DeclareTopology(amqp::Connection* conn, const Topology& topology);

}  // namespace edge::publish
