// TlsPump: the broker connection as rabbitmq-c sees it, with TLS done by mbedTLS.
//
// rabbitmq-c 0.11 does TLS with OpenSSL only and keeps its socket class private, so the public
// route is a socketpair: rabbitmq-c gets one end (amqp_tcp_socket_set_sockfd) and a pump thread
// owns the other end, the TCP socket and the mbedTLS session, and copies bytes both ways:
//
//   rabbitmq-c ── library end ══ socketpair ══ pump end ── TlsPump thread ── TLS/TCP ── broker
//
// Connect() does everything that can fail for a reason worth explaining BEFORE rabbitmq-c sees a
// byte: resolve, TCP connect (connect timeout), TLS handshake with certificate and host-name
// verification (handshake timeout). A verification failure therefore comes back as a Status with
// mbedTLS's reason in words, never as an AMQP "connection closed".
//
// Watchdog: the pump also notices when the broker goes silent (no byte received for
// silence_limit_ms, which should be 2-3 heartbeat intervals) or when the TLS session or TCP
// connection fails. It then records why (status()) and closes its end of the socketpair, so any
// rabbitmq-c call blocked on the library end returns at once (rabbitmq-c 0.11's
// amqp_basic_publish can otherwise block forever on a silent network). The reason is recorded
// before the socket closes: whoever sees the library call fail can read it.
//
// Plaintext: with TransportSecurity::kPlaintext the same pump copies bytes without TLS. It is
// used only when the config asks for it; a TLS failure never falls back to plaintext.
//
// Thread-safety: Connect() and the destructor belong to the owner thread. status(), stopped() and
// Stop() may be called from any thread. ReleaseLibraryFd() is called once, by the owner.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "port/status.h"
#include "port/tls_config.h"
#include "port/unique_fd.h"

namespace edge::port {

class TlsSession;

struct TransportConfig {
  std::string host;
  uint16_t port = 0;
  TransportSecurity security = TransportSecurity::kTls;
  TlsOptions tls;  // ignored for kPlaintext
  int connect_timeout_ms = 10000;
  int handshake_timeout_ms = 10000;
  // The watchdog closes the connection after this long without a byte from the broker.
  // 0 turns it off (then only TCP/TLS errors stop the pump).
  int silence_limit_ms = 0;
};

class TlsPump {
 public:
  // Connects, handshakes (TLS mode) and starts the pump thread. On success the caller hands
  // ReleaseLibraryFd() to rabbitmq-c. Errors: kInvalidArgument (bad config or files),
  // kUnavailable (connect refused, TLS verification failed, alert, reset...), kTimeout.
  static Result<std::unique_ptr<TlsPump>> Connect(const TransportConfig& config);

  // Stops and joins the pump thread.
  ~TlsPump();
  TlsPump(const TlsPump&) = delete;
  TlsPump& operator=(const TlsPump&) = delete;

  // The socketpair end for rabbitmq-c (non-blocking, close-on-exec). Ownership moves to the
  // caller (rabbitmq-c closes it in amqp_destroy_connection). Returns -1 on a second call.
  int ReleaseLibraryFd();

  // OK while the pump runs. After it stopped: why. kUnavailable for a broker-side failure
  // ("broker 10.0.0.5:5671 silent for 30 s ...", "... TLS alert ...", "connection reset by
  // peer", "broker closed the connection"); kShuttingDown when our side closed it.
  Status status() const;
  bool stopped() const { return stopped_.load(std::memory_order_acquire); }

  // Asks the pump to stop (its end closes, blocked rabbitmq-c calls return) and joins it.
  // Idempotent. Must not be called from the pump thread (it never is: the pump runs no callbacks).
  void Stop();

  // "host:port".
  const std::string& endpoint() const { return endpoint_; }
  // "TLSv1.2 <cipher suite>", or "plaintext".
  const std::string& session_description() const { return session_description_; }

 private:
  TlsPump(const TransportConfig& config, UniqueFd tcp, std::unique_ptr<TlsSession> session,
          UniqueFd pump_end, UniqueFd library_end, UniqueFd wake);
  void Run();
  Status PumpLoop();
  void RecordStop(Status why);

  const std::string endpoint_;
  const int silence_limit_ms_;
  std::string session_description_;

  // Owned by the pump thread once it runs (the owner thread touches them only before start and
  // after join).
  UniqueFd tcp_;
  std::unique_ptr<TlsSession> session_;  // null in plaintext mode
  UniqueFd pump_end_;

  UniqueFd library_end_;  // owner thread only, until released
  UniqueFd wake_;         // eventfd: Stop() writes, the pump's poll wakes

  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> stopped_{false};
  std::once_flag join_once_;
  std::thread thread_;

  mutable std::mutex mu_;
  Status stop_reason_;  // GUARDED_BY(mu_): first reason recorded; OK while running
};

}  // namespace edge::port
