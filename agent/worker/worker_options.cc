#include "agent/worker/worker_options.h"

#include "port/subprocess.h"

namespace edge::worker {

Status ValidateWorkerOptions(const WorkerOptions& o) {
  const std::string where = "worker";
  if (o.endpoints.empty()) return Status::InvalidArgument(where + ": no broker endpoint");
  if (o.queue.empty()) return Status::InvalidArgument(where + ": queue is empty");
  if (o.queue.size() > 200) {
    // Retry queue names append ".retry.<ms>"; AMQP short strings stop at 255 bytes.
    return Status::InvalidArgument(where + ": queue name longer than 200 bytes");
  }
  if (o.prefetch == 0) return Status::InvalidArgument(where + ": prefetch must be 1-65535");
  if (o.handler_argv.empty() || o.handler_argv[0].empty()) {
    return Status::InvalidArgument(where + ": handler is empty (expected a program path)");
  }
  if (o.timeout_s <= 0 || o.timeout_s > 24 * 3600) {
    return Status::InvalidArgument(where + ": timeout_s must be 1-86400");
  }
  if (o.max_attempts < 1) return Status::InvalidArgument(where + ": max_attempts must be >= 1");
  if (o.max_attempts > 1 && o.retry_delays_ms.empty()) {
    return Status::InvalidArgument(where + ": retry_delays_ms is empty but max_attempts > 1");
  }
  for (int d : o.retry_delays_ms) {
    if (d <= 0) return Status::InvalidArgument(where + ": retry_delays_ms must all be > 0");
  }
  if (o.recent_ids_capacity == 0) {
    return Status::InvalidArgument(where + ": recent_ids_capacity must be > 0");
  }
  if (o.reconnect_initial_ms <= 0 || o.reconnect_max_ms < o.reconnect_initial_ms) {
    return Status::InvalidArgument(where +
                                   ": reconnect_initial_ms must be > 0 and <= reconnect_max_ms");
  }
  if (o.confirm_timeout_ms <= 0) {
    return Status::InvalidArgument(where + ": confirm_timeout_ms must be > 0");
  }
  auto program = port::ResolveProgram(o.handler_argv[0]);
  if (!program.ok()) return program.status().WithContext(where + " handler");
  return Status::Ok();
}

}  // namespace edge::worker
