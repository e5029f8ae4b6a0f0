// AgentDaemon: the running agent, composed from its parts.
//
//   intake socket ──▶ Ring (durable) ──▶ Publisher ──▶ broker
//        ▲                                   │
//        └──── `--wait confirmed` answers ◀──┘ (outcome per seq)
//   control socket (status), metrics textfile, and optionally a Worker consuming a queue.
//
// Start order makes every promise hold from the first payload: the ring is recovered before
// the intake listens; the publisher's outcome observer is wired to the intake before either
// thread runs. Stop order is the reverse: the intake stops taking payloads first, so the
// publisher's drain deadline covers everything that was accepted.
//
// Thread-safety: Start/Stop/Reload/Tick from the main thread; Snapshot from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "agent/daemon/control_server.h"
#include "agent/daemon/gap_reporter.h"
#include "agent/daemon/metrics_http_server.h"
#include "agent/daemon/quiet_edge.h"
#include "agent/intake/intake_server.h"
#include "agent/ops/status.h"
#include "agent/publish/publisher.h"
#include "agent/publish/rabbit_session.h"
#include "agent/ring/ring.h"
#include "agent/worker/worker.h"
#include <thread>
#include "config/config.h"
#include "port/file.h"

namespace edge::daemon {

class AgentDaemon {
 public:
  static Result<std::unique_ptr<AgentDaemon>> Start(const config::AgentConfig& config,
                                                    port::FileSystem* fs);
  // The same daemon, forwarding through `connector` instead of RabbitMQ at the configured
  // endpoints (config.broker is then not used, and Reload leaves the connector alone). The
  // seam for running the whole path against tests/support/fake_broker.h.
  static Result<std::unique_ptr<AgentDaemon>> Start(
      const config::AgentConfig& config, port::FileSystem* fs,
      std::unique_ptr<publish::BrokerConnector> connector);
  ~AgentDaemon();

  // Graceful stop (SIGTERM): the intake stops accepting (new requests get shutting_down) and
  // answers what it has; the publisher gets up to drain_ms to have outstanding records
  // confirmed; then it stops and the ring closes with a final checkpoint. Whatever was not
  // confirmed stays in the ring for the next start. Idempotent.
  Status Stop(int drain_ms);

  // SIGHUP: takes the freshly loaded config's broker endpoints (password re-read, TLS files
  // are read again at every connect) for the next connection. Ring, intake and route changes
  // need a restart; they are named in the log.
  void Reload(const config::AgentConfig& fresh);

  // Periodic work for the main loop (metrics textfile when configured; freed memory back to
  // the kernel when the intake or the publisher has just gone quiet).
  void Tick();

  ops::StatusSnapshot Snapshot() const;

 private:
  AgentDaemon() = default;
  // One step of the gap report (gap_reporter.h): append, mark reported, log.
  void ReportGaps(uint64_t dropped_total);

  mutable std::mutex config_mu_;  // guards config_.broker and config_.metrics (Reload vs readers)
  config::AgentConfig config_;
  uint64_t dropped_logged_ = 0;  // main thread: dropped records already logged
  port::FileSystem* fs_ = nullptr;
  std::chrono::steady_clock::time_point started_;
  // When ring.gap_report_route is set. Declared before ring_: the ring's writer calls it back,
  // so it must outlive the ring.
  std::unique_ptr<GapReporter> gap_reporter_;
  std::unique_ptr<ring::Ring> ring_;
  std::unique_ptr<publish::DeadLetterFile> dead_letters_;
  std::unique_ptr<publish::BrokerConnector> connector_;
  publish::RabbitConnector* rabbit_ = nullptr;  // connector_ when it is RabbitMQ's; else null
  std::unique_ptr<publish::Publisher> publisher_;
  std::unique_ptr<intake::IntakeServer> intake_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;  // when metrics.listen is set
  std::unique_ptr<worker::Worker> worker_;  // when worker.enabled
  std::thread worker_thread_;
  std::chrono::steady_clock::time_point last_metrics_;
  QuietEdge quiet_;  // main thread
  std::mutex stop_mu_;  // serialises Stop; guards stopped_
  bool stopped_ = false;
};

}  // namespace edge::daemon
