// MetricsHttpServer: Prometheus scrapes `GET /metrics` on a loopback address (metrics.listen).
//
// Deliberately tiny HTTP/1.0: one request per connection, request line and headers capped at
// 8 KiB and read within 2 s, then the Prometheus text format (or 404 / 405 / 400) and close.
// Loopback only: the config refuses other addresses, so no TLS or authentication here.
//
// Thread-safety: one thread of its own; the render function must be thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "port/status.h"
#include "port/tcp_listener.h"

namespace edge::daemon {

class MetricsHttpServer {
 public:
  // listen is "HOST:PORT" (IPv6 as "[::1]:PORT"); port 0 picks a free one (tests).
  static Result<std::unique_ptr<MetricsHttpServer>> Start(const std::string& listen,
                                                          std::function<std::string()> render);
  ~MetricsHttpServer();
  uint16_t port() const { return listener_->port(); }

 private:
  MetricsHttpServer() = default;
  void Loop();
  void Serve(port::UniqueFd fd);

  std::unique_ptr<port::TcpListener> listener_;
  std::function<std::string()> render_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace edge::daemon
