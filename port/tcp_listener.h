// A listening TCP socket for the agent's loopback-only services (the Prometheus endpoint).
// The config refuses non-loopback addresses; this layer binds exactly what it is given.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "port/status.h"
#include "port/unique_fd.h"

namespace edge::port {

class TcpListener {
 public:
  // host is a numeric IPv4 or IPv6 address ("127.0.0.1", "::1"); port 0 picks a free one.
  static Result<std::unique_ptr<TcpListener>> Listen(const std::string& host, uint16_t port);
  // Non-blocking; kTimeout when no connection is waiting (see IsWouldBlock).
  Result<UniqueFd> Accept();
  int fd() const { return fd_.get(); }
  uint16_t port() const { return port_; }

 private:
  TcpListener(UniqueFd fd, uint16_t port) : fd_(std::move(fd)), port_(port) {}
  UniqueFd fd_;
  uint16_t port_;
};

}  // namespace edge::port
