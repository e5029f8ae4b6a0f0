#include "agent/worker/retry_topology.h"

#include <algorithm>
#include <set>

namespace edge::worker {
namespace {

// x-arguments for one queue.declare. The table points into this object: keep it alive until
// the declare returned.
class QueueArguments {
 public:
  void AddString(const char* key, std::string value) {
    strings_.push_back(std::move(value));
    keys_.push_back({key, true, 0});
  }
  void AddInt(const char* key, int64_t value) { keys_.push_back({key, false, value}); }

  amqp_table_t table() {
    entries_.clear();
    size_t next_string = 0;
    for (const Key& k : keys_) {
      amqp_table_entry_t e{};
      e.key = amqp_cstring_bytes(k.key);
      if (k.is_string) {
        // Not amqp_cstring_bytes: "" must be sent as an empty string (the default exchange),
        // not left out.
        const std::string& s = strings_[next_string++];
        e.value.kind = AMQP_FIELD_KIND_UTF8;
        e.value.value.bytes.len = s.size();
        e.value.value.bytes.bytes = const_cast<char*>(s.data());
      } else {
        e.value.kind = AMQP_FIELD_KIND_I64;
        e.value.value.i64 = k.number;
      }
      entries_.push_back(e);
    }
    amqp_table_t t;
    t.num_entries = static_cast<int>(entries_.size());
    t.entries = entries_.empty() ? nullptr : entries_.data();
    return t;
  }

 private:
  struct Key {
    const char* key;
    bool is_string;
    int64_t number;
  };
  std::vector<Key> keys_;
  std::vector<std::string> strings_;
  std::vector<amqp_table_entry_t> entries_;
};

Status DeclareQueue(amqp::Connection* conn, const std::string& name, bool passive,
                    QueueArguments* args) {
  amqp_queue_declare(conn->state(), amqp::Connection::kChannel, amqp_cstring_bytes(name.c_str()),
                     passive ? 1 : 0, /*durable=*/1, /*exclusive=*/0, /*auto_delete=*/0,
                     passive ? amqp_empty_table : args->table());
  return conn->CheckLastRpc(std::string(passive ? "checking" : "declaring") + " queue '" + name +
                            "'");
}

}  // namespace

std::string RetryQueueName(const std::string& queue, int delay_ms) {
  return queue + ".retry." + std::to_string(delay_ms);
}

std::string DeadLetterQueueName(const std::string& queue) { return queue + ".dead"; }

int RetryDelayMs(const WorkerOptions& options, int failed_attempt) {
  if (options.retry_delays_ms.empty()) return 0;
  size_t i = static_cast<size_t>(std::max(1, failed_attempt) - 1);
  return options.retry_delays_ms[std::min(i, options.retry_delays_ms.size() - 1)];
}

Status DeclareWorkerQueues(amqp::Connection* conn, const WorkerOptions& options) {
  const bool passive = !options.declare_queues;
  {
    QueueArguments args;
    if (options.quorum) args.AddString("x-queue-type", "quorum");
    EDGE_RETURN_IF_ERROR(DeclareQueue(conn, options.queue, passive, &args));
  }
  {
    QueueArguments args;
    if (options.quorum) args.AddString("x-queue-type", "quorum");
    EDGE_RETURN_IF_ERROR(DeclareQueue(conn, DeadLetterQueueName(options.queue), passive, &args));
  }
  if (options.max_attempts <= 1) return Status::Ok();  // no retries: no retry queues
  const std::set<int> delays(options.retry_delays_ms.begin(), options.retry_delays_ms.end());
  for (int delay_ms : delays) {
    QueueArguments args;
    if (options.quorum) {
      args.AddString("x-queue-type", "quorum");
      args.AddString("x-overflow", "reject-publish");
      args.AddString("x-dead-letter-strategy", "at-least-once");
    }
    args.AddInt("x-message-ttl", delay_ms);
    args.AddString("x-dead-letter-exchange", "");
    args.AddString("x-dead-letter-routing-key", options.queue);
    EDGE_RETURN_IF_ERROR(
        DeclareQueue(conn, RetryQueueName(options.queue, delay_ms), passive, &args));
  }
  return Status::Ok();
}

}  // namespace edge::worker
