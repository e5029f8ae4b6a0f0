// Worker: the consumer half of the work-queue pattern (`edge-agent work`).
//
// One Worker consumes one queue and runs a handler program for each message, one at a time:
//
//   connect (TLS) ─► declare/check queues ─► basic.qos(prefetch) ─► confirm.select
//     ─► basic.consume (manual ack) ─► for each delivery:
//          run handler (payload on stdin, EDGE_* environment, timeout)
//          exit 0   ─► reply (if reply_to) ─► basic.ack
//          failure  ─► publish a copy to <queue>.retry.<delay> or <queue>.dead, wait for the
//                      broker's confirm ─► basic.ack
//   connection lost ─► reconnect with back-off (next endpoint); unacked deliveries go back to
//                      the queue and are redelivered (to this or another worker, redelivered=1)
//
// Guarantees:
//   - At-least-once. A message is acked only after its handler succeeded (and its reply was
//     published), or after its retry / dead-letter copy was confirmed by the broker. A worker
//     killed at any point loses nothing; the price is that a handler may run again for a
//     message it already completed (EDGE_DUPLICATE / EDGE_REDELIVERED let it notice).
//   - No endless loop. Every failed attempt becomes a copy with x-edge-attempts incremented;
//     after max_attempts the copy goes to the dead-letter queue, and a delivery whose attempt
//     number is already past max_attempts goes there without running the handler. On quorum
//     queues a worker crash also counts (the broker's x-delivery-count is added); on classic
//     queues a message that crashes the worker process itself is redelivered without a count
//     (the handler runs in a child process, so a crashing handler is an ordinary failure).
//   - Fair dispatch: with prefetch 1 (the default) a worker holds one unacked message; the
//     broker gives the next one to whichever worker is free. Run more workers to scale.
//
// Queues (see retry_topology.h for the drawing; all durable; quorum when options.quorum):
//   <queue>                   the work queue
//   <queue>.retry.<delay_ms>  one per distinct retry delay: x-message-ttl=<delay_ms>,
//                             x-dead-letter-exchange="", x-dead-letter-routing-key=<queue>: the
//                             broker moves a message back to <queue> when its delay is over
//   <queue>.dead              dead letters, for an operator (nothing consumes it)
//
// Headers the worker writes on retry and dead-letter copies (body and all other properties and
// headers are copied unchanged; delivery_mode is persistent):
//   x-edge-attempts        (long) on a retry copy: the attempt number of its next delivery
//                          (failed attempt + 1); on a dead letter: the attempts made
//   x-edge-last-error      (string) "exit code 3", "killed by signal 9", "timed out after 30 s",
//                          "reply larger than 1048576 bytes", or for a message that arrived past
//                          its limit "attempt 7 exceeds max_attempts 5"
//   x-edge-last-exit-code  (long) the handler's exit code; -1 when it did not exit by itself
//   x-edge-stderr-tail     (string, dead letters only) the last stderr_tail_bytes of the last
//                          attempt's stderr
//   x-edge-worker          (string) the agent_id of the worker that wrote the copy
// The broker's x-death / x-first-death-* / x-last-death-* / x-delivery-count headers are
// dropped from copies: they describe the retry-queue hop, which x-edge-attempts counts.
//
// Environment of the handler (added to the worker's own; inherited EDGE_* variables are
// removed so a header variable never comes from anywhere but the message):
//   EDGE_MESSAGE_ID, EDGE_CORRELATION_ID, EDGE_REPLY_TO, EDGE_CONTENT_TYPE
//                          the message properties ("" when absent)
//   EDGE_ROUTING_KEY, EDGE_EXCHANGE
//                          as delivered (for a retried message: "" and <queue>)
//   EDGE_REDELIVERED       1 when the broker delivered this message before (a worker died or
//                          lost its connection before acking), else 0
//   EDGE_ATTEMPT           1-based attempt number: x-edge-attempts (1 when absent), plus the
//                          broker's x-delivery-count on quorum queues
//   EDGE_DUPLICATE         1 when a message with this message_id completed successfully in this
//                          worker recently (the last recent_ids_capacity ids), else 0
//   EDGE_HEADER_<NAME>     each string header, name upper-cased with non-alphanumerics as '_'
//                          (x-edge-last-error -> EDGE_HEADER_X_EDGE_LAST_ERROR)
// The handler's stdout is the RPC reply: when the message has reply_to, it is published to the
// default exchange with routing key reply_to and the request's correlation_id. A reply that
// cannot be delivered (the requester's queue is gone) is dropped; the task still counts as done.
//
// Thread-safety: Run() on one thread; Stop() and stats() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "agent/worker/delivery.h"
#include "agent/worker/recent_ids.h"
#include "agent/worker/worker_channel.h"
#include "agent/worker/worker_options.h"
#include "port/status.h"
#include "port/subprocess.h"

namespace edge::worker {

struct WorkerStats {
  uint64_t handled_ok = 0;     // handler exited 0 and the message was acked
  uint64_t failed = 0;         // attempts that failed (exit != 0, signal, timeout)
  uint64_t retried = 0;        // failed attempts sent to a retry queue
  uint64_t dead_lettered = 0;  // messages sent to the dead-letter queue
  uint64_t replies = 0;        // RPC replies published
  uint64_t reconnects = 0;     // sessions lost and re-opened
  bool connected = false;
  std::string last_error;  // the last session or publish failure ("" when none)
};

class Worker {
 public:
  explicit Worker(WorkerOptions options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Consumes until Stop(). Returns OK after Stop(), or the validation error of the options
  // (nothing is retried for a config error). Broker trouble is retried with back-off forever
  // and reported in stats().last_error and the log.
  Status Run();

  // Asks Run() to return: a handler in progress runs to its end (or its timeout), its message
  // is settled (acked, retried or dead-lettered), then the connection is closed. Messages
  // prefetched but not started go back to the queue. Safe from any thread, any number of times.
  void Stop();

  WorkerStats stats() const;

 private:
  // One session: returns OK when stopping, else why the session ended.
  Status Serve(WorkerChannel* channel);
  Status Handle(WorkerChannel* channel, const Delivery& delivery);
  // Publishes the retry or dead-letter copy (confirmed), then acks the original.
  Status SettleFailure(WorkerChannel* channel, const Delivery& delivery, int attempt,
                       const std::string& last_error, int64_t exit_code,
                       const std::string& stderr_tail);
  // Waits up to ms unless Stop() is called; false when stopping.
  bool SleepUnlessStopped(int ms);
  bool stopping() const { return stop_requested_.load(std::memory_order_acquire); }
  void NoteError(const std::string& error);

  const WorkerOptions options_;
  RecentIds recent_ids_;  // the Run() thread only

  std::atomic<bool> stop_requested_{false};
  std::mutex stop_mu_;  // guards nothing but the wait below (stop_requested_ is atomic)
  std::condition_variable stop_cv_;

  mutable std::mutex stats_mu_;
  WorkerStats stats_;  // GUARDED_BY(stats_mu_)
};

}  // namespace edge::worker
