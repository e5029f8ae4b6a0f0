// FaultProxy: a loopback TCP proxy whose path can be broken on command, for transport tests.
//
// It listens on 127.0.0.1 (a free port) and forwards every accepted connection to
// 127.0.0.1:target_port. The test thread switches the mode at any time; the switch has taken
// effect on every connection when the setter returns:
//
//   kPass       bytes are forwarded both ways as they come.
//   kCut        every current connection is closed at once on both sides with a TCP reset
//               (SO_LINGER 0), and connections that arrive while in this mode are reset right
//               after accept: what a restarting NAT box or a firewall rule change looks like.
//   kBlackhole  connections stay open but every byte is silently dropped, both ways, and a close
//               on one side is not passed on to the other: the peers only see silence (a dead NAT
//               entry, an unplugged cable). Connections that arrive meanwhile are accepted (the
//               kernel completes the TCP handshake anyway) and get the same silence.
//   kDelay      each chunk is forwarded `delay_ms` after it was read.
//   kThrottle   each direction of each connection is limited to `bytes_per_s` (token bucket).
//
// A connection that lived through a blackhole has lost bytes in the middle of its streams, so it
// is never forwarded again (its TLS or AMQP framing would be garbage): it stays silent after
// Pass() until one of its ends closes it, or until the next Cut(). New connections work.
//
// Bounded: at most max_connections live pairs (more are reset), at most max_pending_bytes queued
// per direction (reading pauses until the other side takes them). Loopback only.
//
// Thread-safety: the setters, mode(), stats() and port() may be called from any thread. The
// forwarding runs on one internal thread; the destructor stops and joins it and closes every
// socket.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "port/status.h"
#include "port/unique_fd.h"

namespace edge::test {

enum class FaultMode { kPass, kCut, kBlackhole, kDelay, kThrottle };

// "pass", "cut", "blackhole", "delay", "throttle".
const char* FaultModeName(FaultMode mode);

struct FaultProxyOptions {
  size_t max_connections = 64;
  size_t max_pending_bytes = 1 << 20;  // per direction of a connection
};

struct FaultProxyStats {
  uint64_t accepted = 0;           // connections accepted (any mode)
  uint64_t refused = 0;            // reset right after accept (kCut, or over max_connections)
  uint64_t cut = 0;                // live connections reset by a switch to kCut
  uint64_t live = 0;               // connections currently open (forwarding or silenced)
  uint64_t bytes_to_target = 0;    // client -> target, forwarded
  uint64_t bytes_from_target = 0;  // target -> client, forwarded
  uint64_t bytes_dropped = 0;      // read and thrown away (blackhole), either way
};

class FaultProxy {
 public:
  static Result<std::unique_ptr<FaultProxy>> Start(uint16_t target_port,
                                                   const FaultProxyOptions& options = {});
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  uint16_t port() const { return port_; }

  // Each returns once the forwarding thread applied the mode (Cut: every connection is reset).
  void Pass() { SetMode(FaultMode::kPass, 0); }
  void Cut() { SetMode(FaultMode::kCut, 0); }
  void Blackhole() { SetMode(FaultMode::kBlackhole, 0); }
  void Delay(int delay_ms) { SetMode(FaultMode::kDelay, delay_ms > 0 ? delay_ms : 0); }
  void Throttle(uint64_t bytes_per_s) { SetMode(FaultMode::kThrottle, bytes_per_s); }

  FaultMode mode() const;
  // Counts every byte forwarded before the call (waits for the forwarding thread's next turn).
  FaultProxyStats stats() const;

 private:
  struct Connection;
  struct Direction;

  FaultProxy(uint16_t target_port, const FaultProxyOptions& options);
  void SetMode(FaultMode mode, uint64_t param);
  void Run();

  const uint16_t target_port_;
  const FaultProxyOptions options_;
  uint16_t port_ = 0;
  port::UniqueFd listen_fd_;
  port::UniqueFd wake_fd_;  // eventfd: a mode change or the destructor wakes the thread

  mutable std::mutex mu_;
  std::condition_variable applied_cv_;  // the thread applied generation_
  // Guarded by mu_:
  FaultMode mode_ = FaultMode::kPass;
  uint64_t param_ = 0;       // delay_ms or bytes_per_s
  uint64_t generation_ = 0;  // bumped by every SetMode
  uint64_t applied_ = 0;     // the generation the thread has applied
  // Turns of the forwarding loop that published stats_; stats() waits for one more (see there).
  uint64_t published_turns_ = 0;
  mutable std::condition_variable published_cv_;
  bool stop_ = false;
  FaultProxyStats stats_;

  std::thread thread_;
};

}  // namespace edge::test
