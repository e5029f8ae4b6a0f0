// SilentProxy: a loopback TCP proxy that can stop forwarding on command.
//
// Used to make a live broker connection go silent without touching the broker: after
// GoSilent() the proxy keeps both sockets open but moves no more bytes in either direction,
// which is what a dead NAT entry or a cut cable looks like to the client.
//
// Thread-safety: GoSilent() and the destructor may be called from any thread; the forwarding
// thread is internal.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "port/status.h"

namespace edge::test {

class SilentProxy {
 public:
  // Listens on 127.0.0.1 (free port) and forwards each accepted connection to
  // 127.0.0.1:target_port.
  static Result<std::unique_ptr<SilentProxy>> Start(uint16_t target_port);
  ~SilentProxy();

  uint16_t port() const { return port_; }
  // From now on nothing is forwarded; the connections stay open.
  void GoSilent() { silent_.store(true); }

 private:
  SilentProxy() = default;
  void Run();

  uint16_t port_ = 0;
  uint16_t target_port_ = 0;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: the destructor wakes the thread
  std::atomic<bool> silent_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace edge::test
