// From the validated AgentConfig to each component's own option struct. Only copies: every
// check already happened at load time, so these cannot fail.
#include "config/config.h"

namespace edge::config {

ring::RingOptions RingOptionsFrom(const AgentConfig& config) {
  ring::RingOptions options;
  options.file_bytes = config.ring.size_bytes;
  options.segment_bytes = config.ring.segment_bytes;
  options.full_policy = config.ring.full_policy;
  options.max_batch_records = static_cast<uint32_t>(config.ring.max_batch_records);
  options.max_batch_bytes = config.ring.max_batch_bytes;
  // A crash then re-sends at most about two confirm windows of what the broker had confirmed
  // (the window in flight, and up to a window confirmed since the last checkpoint).
  options.checkpoint_every_records = static_cast<uint64_t>(config.broker.confirm_window);
  return options;
}

std::vector<amqp::Endpoint> EndpointsFrom(const AgentConfig& config) {
  const BrokerConfig& broker = config.broker;
  std::vector<amqp::Endpoint> endpoints;
  for (const EndpointConfig& e : broker.endpoints) {
    amqp::Endpoint out;
    out.host = e.host;
    out.port = static_cast<uint16_t>(e.port);
    out.vhost = e.vhost;
    out.security =
        broker.tls.enabled ? port::TransportSecurity::kTls : port::TransportSecurity::kPlaintext;
    if (broker.tls.enabled) {
      out.ca_file = broker.tls.ca_file;
      out.server_name = broker.tls.server_name;
      out.client_cert_file = broker.tls.client_cert_file;
      out.client_key_file = broker.tls.client_key_file;
      out.verify_peer = broker.tls.verify;
    }
    out.auth = broker.auth.mechanism;
    if (broker.auth.mechanism == amqp::AuthMechanism::kPlain) {
      out.user = broker.auth.user;
      out.password = broker.auth.password;
    } else {
      // RabbitMQ ignores the EXTERNAL response (the user is the certificate's CN), but it shows
      // up in logs: the agent id says which gateway this is.
      out.external_identity = config.agent_id;
    }
    out.heartbeat_s = static_cast<int>(broker.heartbeat_s);
    out.connect_timeout_ms = static_cast<int>(broker.connect_timeout_ms);
    out.handshake_timeout_ms = static_cast<int>(broker.handshake_timeout_ms);
    out.connection_name = "edge-agent " + config.agent_id;
    endpoints.push_back(std::move(out));
  }
  return endpoints;
}

publish::Topology TopologyFrom(const AgentConfig& config) {
  publish::Topology topology;
  topology.mode = config.broker.declare;
  topology.exchanges = config.topology.exchanges;
  topology.queues = config.topology.queues;
  topology.bindings = config.topology.bindings;
  return topology;
}

publish::PublisherOptions PublisherOptionsFrom(const AgentConfig& config) {
  publish::PublisherOptions options;
  options.agent_id = config.agent_id;
  options.routes = config.routes;
  options.confirm_window = static_cast<uint32_t>(config.broker.confirm_window);
  options.nack_retries = static_cast<int>(config.broker.nack_retries);
  options.backoff_initial_ms = static_cast<int>(config.broker.backoff_initial_ms);
  options.backoff_max_ms = static_cast<int>(config.broker.backoff_max_ms);
  return options;
}

worker::WorkerOptions WorkerOptionsFrom(const AgentConfig& config) {
  worker::WorkerOptions o;
  o.endpoints = EndpointsFrom(config);
  o.queue = config.worker.queue;
  o.prefetch = static_cast<uint16_t>(config.worker.prefetch);
  o.handler_argv = config.worker.handler;
  o.timeout_s = static_cast<int>(config.worker.timeout_s);
  o.max_attempts = static_cast<int>(config.worker.max_attempts);
  o.retry_delays_ms.assign(config.worker.retry_delays_ms.begin(),
                           config.worker.retry_delays_ms.end());
  o.declare_queues = config.worker.declare;
  o.quorum = config.worker.quorum;
  o.reconnect_initial_ms = static_cast<int>(config.broker.backoff_initial_ms);
  o.reconnect_max_ms = static_cast<int>(config.broker.backoff_max_ms);
  o.agent_id = config.agent_id;
  return o;
}

}  // namespace edge::config
