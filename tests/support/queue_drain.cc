#include "tests/support/queue_drain.h"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <memory>
#include <set>

namespace edge::test {
namespace {

using Clock = std::chrono::steady_clock;

Status Check(amqp_rpc_reply_t r, const std::string& what) {
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return Status::Ok();
  if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    return Status::Unavailable("consumer: " + what + ": " + amqp_error_string2(r.library_error));
  }
  return Status::Unavailable("consumer: " + what + ": broker refused (method " +
                             std::to_string(r.reply.id) + ")");
}

}  // namespace

Status DrainQueue(const DrainOptions& o, std::vector<ConsumedMessage>* out) {
  std::unique_ptr<amqp_connection_state_t_, int (*)(amqp_connection_state_t)> conn(
      amqp_new_connection(), amqp_destroy_connection);
  amqp_connection_state_t c = conn.get();
  amqp_socket_t* socket = amqp_tcp_socket_new(c);
  if (socket == nullptr || amqp_socket_open(socket, "127.0.0.1", o.port) != AMQP_STATUS_OK) {
    return Status::Unavailable("consumer: cannot connect to 127.0.0.1:" + std::to_string(o.port));
  }
  EDGE_RETURN_IF_ERROR(Check(
      amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, o.user.c_str(), o.password.c_str()),
      "login"));
  amqp_channel_open(c, 1);
  EDGE_RETURN_IF_ERROR(Check(amqp_get_rpc_reply(c), "channel.open"));
  amqp_basic_qos(c, 1, 0, 1000, 0);
  EDGE_RETURN_IF_ERROR(Check(amqp_get_rpc_reply(c), "basic.qos"));
  amqp_basic_consume(c, 1, amqp_cstring_bytes(o.queue.c_str()), amqp_empty_bytes, 0,
                     /*no_ack=*/0, 0, amqp_empty_table);
  EDGE_RETURN_IF_ERROR(Check(amqp_get_rpc_reply(c), "basic.consume on '" + o.queue + "'"));

  std::set<std::string> ids;
  const auto deadline = Clock::now() + o.bound;
  auto last = Clock::now();
  while (Clock::now() < deadline) {
    if (ids.size() >= o.want && Clock::now() - last >= o.quiet) break;
    amqp_maybe_release_buffers(c);
    amqp_envelope_t env;
    timeval tv{0, 200000};
    amqp_rpc_reply_t r = amqp_consume_message(c, &env, &tv, 0);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT) {
      continue;
    }
    EDGE_RETURN_IF_ERROR(Check(r, "consume"));
    out->push_back(FromEnvelope(env));
    ids.insert(out->back().message_id);
    last = Clock::now();
    const uint64_t tag = env.delivery_tag;
    amqp_destroy_envelope(&env);
    // Acked only after it is recorded: what the test saw is exactly what left the queue.
    if (amqp_basic_ack(c, 1, tag, 0) != AMQP_STATUS_OK) {
      return Status::Unavailable("consumer: basic.ack failed");
    }
  }
  amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(c, AMQP_REPLY_SUCCESS);
  return Status::Ok();
}

}  // namespace edge::test
