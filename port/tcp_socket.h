// Outgoing TCP connections for the broker transport.
//
// ConnectTcp resolves host:port with getaddrinfo and tries every address in the resolver's order
// until one connects within the remaining time. The socket it returns is connected, non-blocking,
// close-on-exec and has TCP_NODELAY set (AMQP frames are small and latency-bound: Nagle would
// hold a publish behind the previous frame's ACK).
//
// Errors name the endpoint and the OS reason, e.g.
//   "connect to broker.example:5671 (192.0.2.7): Connection refused"
//   "connect to broker.example:5671: no answer within 10000 ms"
//   "resolve broker.example:5671: Name or service not known"
//
// Thread-safety: the function is reentrant; call it from any thread.
#pragma once

#include <cstdint>
#include <string>

#include "port/status.h"
#include "port/unique_fd.h"

namespace edge::port {

// "host:port", with brackets around IPv6 literals ("[::1]:5671").
std::string EndpointName(const std::string& host, uint16_t port);

// Connects to host:port within timeout_ms (the whole budget, shared by all resolved addresses).
// kUnavailable when refused/unreachable/unresolvable, kTimeout when no address answered in time,
// kInvalidArgument for an empty host, port 0 or a non-positive timeout.
Result<UniqueFd> ConnectTcp(const std::string& host, uint16_t port, int timeout_ms);

}  // namespace edge::port
