#include "agent/amqp/endpoint.h"

#include "port/tcp_socket.h"

namespace edge::amqp {

std::string Endpoint::Url() const {
  const char* scheme = security == port::TransportSecurity::kTls ? "amqps://" : "amqp://";
  // The default vhost "/" is written as "/" rather than percent-encoded: this is for people.
  return scheme + port::EndpointName(host, port) + (vhost == "/" ? "/" : "/" + vhost);
}

int Endpoint::EffectiveSilenceLimitMs() const {
  if (silence_limit_ms > 0) return silence_limit_ms;
  if (heartbeat_s <= 0) return 0;
  // The broker sends a heartbeat every heartbeat/2 when idle; 2.5 intervals of silence is well
  // past any jitter and still far below TCP's own minutes-long timeouts.
  return heartbeat_s * 2500;
}

}  // namespace edge::amqp
