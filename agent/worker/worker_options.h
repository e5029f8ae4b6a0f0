// WorkerOptions: what one worker consumes, what it runs, and how it retries.
//
// Plain data, filled by the config layer (or a test). ValidateWorkerOptions names the field and
// says what is expected, so a bad config fails at start-up rather than per message.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/amqp/endpoint.h"
#include "port/status.h"

namespace edge::worker {

struct WorkerOptions {
  // Brokers to try, in order, on every (re)connect; the next one after a failure.
  std::vector<amqp::Endpoint> endpoints;
  // The work queue. Retry and dead-letter queues are named after it (see worker.h).
  std::string queue;
  // basic.qos prefetch: unacknowledged deliveries the broker may hand this worker. 1 gives fair
  // dispatch across workers (a busy worker gets nothing new). Handlers run one at a time; with
  // prefetch > 1 the next deliveries wait here, already off the queue for other workers.
  uint16_t prefetch = 1;

  // The handler program and its arguments (no shell). argv[0]: a path or a name in PATH.
  std::vector<std::string> handler_argv;
  // Working directory for the handler ("" = the worker's).
  std::string handler_working_dir;
  // A handler still running after this long is SIGKILLed with its process group: a failure.
  int timeout_s = 30;
  // Handler runs per message, counting the first. After the last failure: dead-letter queue.
  int max_attempts = 5;
  // Delay before attempt n+1 after attempt n failed: retry_delays_ms[n-1], the last repeating.
  std::vector<int> retry_delays_ms = {1000, 5000, 30000};
  // Largest handler stdout accepted as an RPC reply; more is a failure of the attempt.
  size_t max_reply_bytes = 1 << 20;
  // Bytes of the handler's stderr kept for x-edge-stderr-tail on dead-lettered messages.
  size_t stderr_tail_bytes = 4096;

  // true: declare the work, retry and dead-letter queues (creating them when missing);
  // false: only check that they exist (topology managed elsewhere; missing = error).
  bool declare_queues = true;
  // Declare the queues as quorum queues (replicated; a delivery count survives redelivery).
  bool quorum = false;

  // Message ids remembered as completed, for EDGE_DUPLICATE.
  size_t recent_ids_capacity = 4096;
  // Reconnect back-off: doubling from initial to max, with jitter.
  int reconnect_initial_ms = 500;
  int reconnect_max_ms = 30000;
  // Longest wait for the broker's confirm of a retry, dead-letter or reply publish.
  int confirm_timeout_ms = 30000;

  // This gateway's id: in logs and the broker's connection name.
  std::string agent_id;
};

// kInvalidArgument naming the first bad field; kNotFound / kPermissionDenied when the handler
// program does not exist or is not executable.
Status ValidateWorkerOptions(const WorkerOptions& options);

}  // namespace edge::worker
