#include "agent/worker/worker.h"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "agent/ops/log.h"
#include "agent/amqp/backoff.h"
#include "agent/worker/handler_env.h"
#include "agent/worker/retry_topology.h"

namespace edge::worker {
namespace {

constexpr char kAttemptsHeader[] = "x-edge-attempts";
constexpr char kLastErrorHeader[] = "x-edge-last-error";
constexpr char kLastExitCodeHeader[] = "x-edge-last-exit-code";
constexpr char kStderrTailHeader[] = "x-edge-stderr-tail";
constexpr char kWorkerHeader[] = "x-edge-worker";
// Set by quorum queues on redelivery: deliveries of this copy before this one.
constexpr char kDeliveryCountHeader[] = "x-delivery-count";
// How long an idle worker waits for a delivery before looking at Stop() again.
constexpr int kIdlePollMs = 250;
// How often a running handler lets the session read frames and send heartbeats.
constexpr int kHandlerTickMs = 1000;

// Headers a copy must not inherit: ours (rewritten) and the broker's dead-lettering history of
// the retry hop (x-edge-attempts is the count that matters, and the broker keeps adding x-death
// entries that would only grow the message).
bool DroppedFromCopies(std::string_view key) {
  return key == kAttemptsHeader || key == kLastErrorHeader || key == kLastExitCodeHeader ||
         key == kStderrTailHeader || key == kWorkerHeader || key == kDeliveryCountHeader ||
         key == "x-death" || key.rfind("x-first-death-", 0) == 0 ||
         key.rfind("x-last-death-", 0) == 0;
}

amqp_table_entry_t StringEntry(const char* key, const std::string& value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;  // AMQP longstr: any bytes
  e.value.value.bytes.len = value.size();
  e.value.value.bytes.bytes = const_cast<char*>(value.data());
  return e;
}

amqp_table_entry_t IntEntry(const char* key, int64_t value) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I64;
  e.value.value.i64 = value;
  return e;
}

amqp_bytes_t Bytes(const std::string& s) {
  amqp_bytes_t b;
  b.len = s.size();
  b.bytes = const_cast<char*>(s.data());
  return b;
}

std::string Describe(const Delivery& d) {
  const std::string id = d.message_id();
  return id.empty() ? "delivery " + std::to_string(d.delivery_tag()) : "message '" + id + "'";
}

}  // namespace

Worker::Worker(WorkerOptions options)
    : options_(std::move(options)), recent_ids_(options_.recent_ids_capacity) {}

Worker::~Worker() = default;

void Worker::Stop() {
  stop_requested_.store(true, std::memory_order_release);
  // Taking the mutex orders the store before a waiter's predicate check: no lost wake-up.
  { std::lock_guard<std::mutex> lock(stop_mu_); }
  stop_cv_.notify_all();
}

bool Worker::SleepUnlessStopped(int ms) {
  std::unique_lock<std::mutex> lock(stop_mu_);
  stop_cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping(); });
  return !stopping();
}

WorkerStats Worker::stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  return stats_;
}

void Worker::NoteError(const std::string& error) {
  std::lock_guard<std::mutex> lock(stats_mu_);
  stats_.last_error = error;
}

Status Worker::Run() {
  EDGE_RETURN_IF_ERROR(ValidateWorkerOptions(options_));
  amqp::Backoff backoff(options_.reconnect_initial_ms, options_.reconnect_max_ms,
                           std::random_device{}());
  size_t endpoint = 0;
  while (!stopping()) {
    const amqp::Endpoint& e = options_.endpoints[endpoint];
    endpoint = (endpoint + 1) % options_.endpoints.size();  // the next one after any loss
    auto channel = WorkerChannel::Open(e, options_);
    if (!channel.ok()) {
      const int delay_ms = backoff.NextMs();
      NoteError(channel.status().ToString());
      ops::LogWarning("worker '" + options_.queue + "': cannot consume from " + e.Url() + ": " +
                      channel.status().ToString() + "; retrying in " + std::to_string(delay_ms) +
                      " ms");
      SleepUnlessStopped(delay_ms);
      continue;
    }
    backoff.Reset();
    ops::LogInfo("worker '" + options_.queue + "': consuming on " + (*channel)->description() +
                 " (prefetch " + std::to_string(options_.prefetch) + ")");
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.connected = true;
    }
    Status s = Serve(channel->get());
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      stats_.connected = false;
      if (!s.ok()) stats_.reconnects++;
    }
    // Closing returns every unacked delivery (prefetched, not started) to the queue.
    channel->reset();
    if (s.ok()) break;  // stopping
    const int delay_ms = backoff.NextMs();
    NoteError(s.ToString());
    ops::LogWarning("worker '" + options_.queue + "': session ended: " + s.ToString() +
                    "; reconnecting in " + std::to_string(delay_ms) + " ms");
    SleepUnlessStopped(delay_ms);
  }
  ops::LogInfo("worker '" + options_.queue + "': stopped");
  return Status::Ok();
}

Status Worker::Serve(WorkerChannel* channel) {
  for (;;) {
    if (stopping()) return Status::Ok();
    if (!channel->has_delivery()) {
      EDGE_RETURN_IF_ERROR(channel->Poll(kIdlePollMs));
      continue;
    }
    Delivery d = channel->TakeDelivery();
    EDGE_RETURN_IF_ERROR(Handle(channel, d));
  }
}

Status Worker::Handle(WorkerChannel* channel, const Delivery& d) {
  const std::string id = d.message_id();
  int64_t attempt = std::max<int64_t>(1, d.IntHeader(kAttemptsHeader).value_or(1));
  attempt += std::max<int64_t>(0, d.IntHeader(kDeliveryCountHeader).value_or(0));
  attempt = std::min<int64_t>(attempt, 1 << 30);

  if (attempt > options_.max_attempts) {
    // Already past its limit (a copy from elsewhere, a changed config, or quorum redeliveries
    // after worker crashes): never run it again.
    std::string error = "attempt " + std::to_string(attempt) + " exceeds max_attempts " +
                        std::to_string(options_.max_attempts);
    if (auto previous = d.StringHeader(kLastErrorHeader)) error += " (last: " + *previous + ")";
    return SettleFailure(channel, d, static_cast<int>(attempt - 1), error,
                         d.IntHeader(kLastExitCodeHeader).value_or(-1),
                         d.StringHeader(kStderrTailHeader).value_or(""));
  }

  const bool duplicate = !id.empty() && recent_ids_.Contains(id);
  const std::string reply_to = d.reply_to();
  const bool reply_wanted = !reply_to.empty();
  port::SubprocessOptions so;
  so.argv = options_.handler_argv;
  so.env = HandlerEnvironment(d, static_cast<int>(attempt), duplicate);
  so.drop_env_prefix = "EDGE_";
  so.working_dir = options_.handler_working_dir;
  so.timeout_ms = options_.timeout_s * 1000;
  // Without reply_to nobody reads stdout: drain it, keep nothing. With it, keep one byte more
  // than allowed so an oversized reply is recognised.
  so.max_stdout_bytes = reply_wanted ? options_.max_reply_bytes + 1 : 0;
  so.max_stderr_tail_bytes = options_.stderr_tail_bytes;
  // Keep the connection alive while the handler works. A session lost meanwhile is noticed
  // after the handler: it still runs to its end (its message will come back, flagged).
  so.tick = [channel] {
    (void)channel->Poll(0);
    return true;
  };
  so.tick_ms = kHandlerTickMs;

  auto result = port::RunSubprocess(so, d.body());
  if (!result.ok()) {
    // The handler could not even start (removed, not executable, out of processes): the
    // worker's problem, not the message's. No attempt is spent: ending the session returns the
    // message to the queue, and the reconnect back-off keeps this from spinning.
    return result.status().WithContext("handler for " + Describe(d) + " could not start");
  }
  const AttemptFailure failure =
      DescribeAttempt(*result, options_.timeout_s, reply_wanted, options_.max_reply_bytes);

  if (failure.last_error.empty()) {
    if (!id.empty()) recent_ids_.Insert(id);  // before the ack: a lost ack makes a duplicate
    if (reply_wanted) {
      const std::string correlation_id = d.correlation_id();
      amqp_basic_properties_t props{};
      props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
      props.delivery_mode = 1;  // reply queues are usually transient; a reply outliving the
                                // requester's broker would have nobody to read it
      if (!correlation_id.empty()) {
        props._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
        props.correlation_id = Bytes(correlation_id);
      }
      Status s = channel->PublishConfirmed("", reply_to, props, Bytes(result->stdout_data),
                                           /*mandatory=*/false, options_.confirm_timeout_ms);
      if (!channel->health().ok()) return channel->health();
      if (s.ok()) {
        std::lock_guard<std::mutex> lock(stats_mu_);
        stats_.replies++;
      } else {
        ops::LogWarning("worker '" + options_.queue + "': reply to '" + reply_to + "' for " +
                        Describe(d) + " dropped: " + s.ToString());
      }
    }
    EDGE_RETURN_IF_ERROR(channel->Ack(d.delivery_tag()));
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.handled_ok++;
    return Status::Ok();
  }

  {
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.failed++;
  }
  ops::LogWarning("worker '" + options_.queue + "': " + Describe(d) + " attempt " +
                  std::to_string(attempt) + "/" + std::to_string(options_.max_attempts) +
                  " failed: " + failure.last_error);
  return SettleFailure(channel, d, static_cast<int>(attempt), failure.last_error, failure.exit_code,
                       result->stderr_tail);
}

Status Worker::SettleFailure(WorkerChannel* channel, const Delivery& d, int failed_attempt,
                             const std::string& last_error, int64_t exit_code,
                             const std::string& stderr_tail) {
  const bool dead = failed_attempt >= options_.max_attempts;
  const std::string target =
      dead ? DeadLetterQueueName(options_.queue)
           : RetryQueueName(options_.queue, RetryDelayMs(options_, failed_attempt));

  // The copy: every original property and header (the entries point into the delivery, which
  // outlives the publish), ours replaced.
  std::vector<amqp_table_entry_t> headers;
  const amqp_basic_properties_t& original = d.properties();
  if (original._flags & AMQP_BASIC_HEADERS_FLAG) {
    for (int i = 0; i < original.headers.num_entries; i++) {
      if (!DroppedFromCopies(View(original.headers.entries[i].key))) {
        headers.push_back(original.headers.entries[i]);
      }
    }
  }
  headers.push_back(IntEntry(kAttemptsHeader, dead ? failed_attempt : failed_attempt + 1));
  headers.push_back(StringEntry(kLastErrorHeader, last_error));
  headers.push_back(IntEntry(kLastExitCodeHeader, exit_code));
  if (dead) headers.push_back(StringEntry(kStderrTailHeader, stderr_tail));
  if (!options_.agent_id.empty()) headers.push_back(StringEntry(kWorkerHeader, options_.agent_id));
  amqp_basic_properties_t props = original;
  props._flags |= AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.headers.num_entries = static_cast<int>(headers.size());
  props.headers.entries = headers.data();

  // Confirmed before the ack: between the two a crash leaves both the copy and the unacked
  // original, so the message is at worst handled twice, never lost.
  Status s = channel->PublishConfirmed("", target, props, d.body_bytes(), /*mandatory=*/true,
                                       options_.confirm_timeout_ms);
  if (!s.ok()) {
    // Not acked: the original stays with the broker and comes back on the next session.
    return s.WithContext("moving " + Describe(d) + " to queue '" + target + "'");
  }
  EDGE_RETURN_IF_ERROR(channel->Ack(d.delivery_tag()));
  std::lock_guard<std::mutex> lock(stats_mu_);
  if (dead) {
    stats_.dead_lettered++;
    ops::LogWarning("worker '" + options_.queue + "': " + Describe(d) + " dead-lettered to '" +
                    target + "' after " + std::to_string(failed_attempt) +
                    " attempts: " + last_error);
  } else {
    stats_.retried++;
  }
  return Status::Ok();
}

}  // namespace edge::worker
