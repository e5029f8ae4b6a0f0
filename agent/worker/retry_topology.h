// The worker's queues: the work queue, one retry queue per delay, and the dead-letter queue.
//
//   producer ──► "" ──► <queue> ──► worker ──(handler failed, attempt n < max)──┐
//                          ▲                                                   │ publish copy,
//                          │ x-dead-letter-exchange ""                         │ x-edge-attempts
//                          │ x-dead-letter-routing-key <queue>                 │ = n + 1
//                          └──── <queue>.retry.<delay_ms> ◄────────────────────┘
//                                (x-message-ttl = delay_ms)
//            worker ──(attempt n = max failed, or attempt > max)──► <queue>.dead
//
// Why one retry queue per delay: RabbitMQ expires messages only at the head of a queue. Within
// one retry queue every message has the same TTL, so head order is expiry order and a message
// never waits behind a longer-delayed one (no head-of-line blocking across delays).
//
// All queues are durable. With `quorum`, all are quorum queues; the retry queues then also get
// x-overflow=reject-publish and x-dead-letter-strategy=at-least-once, so the broker's hop back
// to the work queue cannot drop a message (quorum dead-lettering is at-most-once by default).
// Declaring is idempotent when the arguments match; a queue that exists with other arguments
// fails with 406 PRECONDITION_FAILED (reported, naming the queue).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/amqp/connection.h"
#include "agent/worker/worker_options.h"
#include "port/status.h"

namespace edge::worker {

// "<queue>.retry.<delay_ms>"
std::string RetryQueueName(const std::string& queue, int delay_ms);
// "<queue>.dead"
std::string DeadLetterQueueName(const std::string& queue);
// The delay after `failed_attempt` (1-based) failed: retry_delays_ms[n-1], the last repeating.
int RetryDelayMs(const WorkerOptions& options, int failed_attempt);

// Declares (options.declare_queues) or passively checks all of the worker's queues on conn's
// channel. The Status names the queue and carries the broker's reply.
Status DeclareWorkerQueues(amqp::Connection* conn, const WorkerOptions& options);

}  // namespace edge::worker
