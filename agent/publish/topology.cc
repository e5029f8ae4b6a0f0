#include "agent/publish/topology.h"

#include <vector>

namespace edge::publish {
namespace {

amqp_bytes_t Bytes(const std::string& s) {
  return s.empty() ? amqp_empty_bytes : amqp_cstring_bytes(s.c_str());
}

// x-arguments for a queue declare. The strings must outlive the table: they are the spec's.
class QueueArgs {
 public:
  explicit QueueArgs(const QueueSpec& q) {
    if (q.quorum) AddString("x-queue-type", kQuorum);
    if (!q.dead_letter_exchange.empty()) {
      AddString("x-dead-letter-exchange", q.dead_letter_exchange);
    }
    if (!q.dead_letter_routing_key.empty()) {
      AddString("x-dead-letter-routing-key", q.dead_letter_routing_key);
    }
    if (q.max_length > 0) AddInt("x-max-length", q.max_length);
    if (!q.overflow.empty()) AddString("x-overflow", q.overflow);
    if (q.message_ttl_ms > 0) AddInt("x-message-ttl", q.message_ttl_ms);
    if (q.delivery_limit > 0) AddInt("x-delivery-limit", q.delivery_limit);
  }
  amqp_table_t table() {
    amqp_table_t t;
    t.num_entries = static_cast<int>(entries_.size());
    t.entries = entries_.empty() ? nullptr : entries_.data();
    return t;
  }

 private:
  static inline const std::string kQuorum = "quorum";
  void AddString(const char* key, const std::string& value) {
    amqp_table_entry_t e;
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = amqp_cstring_bytes(value.c_str());
    entries_.push_back(e);
  }
  void AddInt(const char* key, int64_t value) {
    amqp_table_entry_t e;
    e.key = amqp_cstring_bytes(key);
    e.value.kind = AMQP_FIELD_KIND_I64;
    e.value.value.i64 = value;
    entries_.push_back(e);
  }
  std::vector<amqp_table_entry_t> entries_;
};

}  // namespace

Status DeclareTopology(amqp::Connection* conn, const Topology& topology) {
  if (topology.mode == DeclareMode::kNone) return Status::Ok();
  const amqp_boolean_t passive = topology.mode == DeclareMode::kPassive ? 1 : 0;
  amqp_connection_state_t st = conn->state();
  const amqp_channel_t ch = amqp::Connection::kChannel;
  for (const ExchangeSpec& x : topology.exchanges) {
    amqp_exchange_declare(st, ch, Bytes(x.name), Bytes(x.type), passive, x.durable ? 1 : 0,
                          /*auto_delete=*/0, /*internal=*/0, amqp_empty_table);
    EDGE_RETURN_IF_ERROR(conn->CheckLastRpc("declaring exchange '" + x.name + "'"));
  }
  for (const QueueSpec& q : topology.queues) {
    QueueArgs args(q);
    amqp_queue_declare(st, ch, Bytes(q.name), passive, q.durable ? 1 : 0, /*exclusive=*/0,
                       /*auto_delete=*/0, passive ? amqp_empty_table : args.table());
    EDGE_RETURN_IF_ERROR(conn->CheckLastRpc("declaring queue '" + q.name + "'"));
  }
  if (passive) return Status::Ok();  // bindings cannot be checked passively in AMQP 0-9-1
  for (const BindingSpec& b : topology.bindings) {
    amqp_queue_bind(st, ch, Bytes(b.queue), Bytes(b.exchange), Bytes(b.routing_key),
                    amqp_empty_table);
    EDGE_RETURN_IF_ERROR(conn->CheckLastRpc("binding queue '" + b.queue + "' to exchange '" +
                                            b.exchange + "' with key '" + b.routing_key + "'"));
  }
  return Status::Ok();
}

}  // namespace edge::publish
