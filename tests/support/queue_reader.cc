#include "tests/support/queue_reader.h"

#include <sys/time.h>

namespace edge::test {
namespace {
constexpr uint16_t kPrefetch = 500;
}  // namespace

Result<std::unique_ptr<QueueReader>> QueueReader::Open(const BrokerFixture& broker,
                                                       const std::string& password,
                                                       const std::string& queue) {
  amqp::Endpoint e;
  e.host = "127.0.0.1";
  e.port = broker.amqp_port();
  e.security = port::TransportSecurity::kPlaintext;
  e.user = broker.user();
  e.password = password;
  e.heartbeat_s = 10;
  e.connect_timeout_ms = 5000;
  e.connection_name = "edge-agent test queue reader";
  auto c = amqp::Connection::Connect(e);
  if (!c.ok()) return c.status();
  amqp_connection_state_t st = (*c)->state();
  amqp_basic_qos(st, amqp::Connection::kChannel, 0, kPrefetch, 0);
  EDGE_RETURN_IF_ERROR((*c)->CheckLastRpc("basic.qos"));
  amqp_basic_consume(st, amqp::Connection::kChannel, amqp_cstring_bytes(queue.c_str()),
                     amqp_empty_bytes, 0, /*no_ack=*/0, 0, amqp_empty_table);
  EDGE_RETURN_IF_ERROR((*c)->CheckLastRpc("basic.consume " + queue));
  return std::unique_ptr<QueueReader>(new QueueReader(std::move(c).value()));
}

Result<ConsumedMessage> QueueReader::Next(std::chrono::milliseconds timeout) {
  amqp_connection_state_t st = conn_->state();
  amqp_maybe_release_buffers(st);
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
  struct timeval tv = {static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
  amqp_envelope_t env;
  amqp_rpc_reply_t r = amqp_consume_message(st, &env, &tv, 0);
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) {
    return Status::Timeout("no message within " + std::to_string(timeout.count()) + " ms");
  }
  if (r.reply_type != AMQP_RESPONSE_NORMAL) return conn_->CheckReply(r, "consume");
  ConsumedMessage m = FromEnvelope(env);
  const uint64_t tag = env.delivery_tag;
  amqp_destroy_envelope(&env);
  EDGE_RETURN_IF_ERROR(conn_->CheckLibraryStatus(
      amqp_basic_ack(st, amqp::Connection::kChannel, tag, /*multiple=*/0), "basic.ack"));
  return m;
}

}  // namespace edge::test
