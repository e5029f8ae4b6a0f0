#include "agent/worker/worker_channel.h"

#include <amqp_framing.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "agent/ops/log.h"
#include "agent/worker/retry_topology.h"

namespace edge::worker {
namespace {

using Clock = std::chrono::steady_clock;
constexpr amqp_channel_t kChannel = amqp::Connection::kChannel;

}  // namespace

Result<std::unique_ptr<WorkerChannel>> WorkerChannel::Open(const amqp::Endpoint& endpoint,
                                                           const WorkerOptions& options) {
  amqp::Endpoint e = endpoint;
  if (e.connection_name.empty()) {
    e.connection_name = "edge-agent worker " + options.agent_id + " " + options.queue;
  }
  auto conn = amqp::Connection::Connect(e);
  if (!conn.ok()) return conn.status();
  std::unique_ptr<WorkerChannel> ch(new WorkerChannel(std::move(conn).value()));
  amqp::Connection* c = ch->conn_.get();
  amqp_connection_state_t st = c->state();

  EDGE_RETURN_IF_ERROR(DeclareWorkerQueues(c, options));
  // Fair dispatch: the broker hands this consumer at most `prefetch` unacked messages.
  amqp_basic_qos(st, kChannel, 0, options.prefetch, 0);
  EDGE_RETURN_IF_ERROR(c->CheckLastRpc("basic.qos"));
  amqp_confirm_select(st, kChannel);
  EDGE_RETURN_IF_ERROR(c->CheckLastRpc("confirm.select"));
  amqp_basic_consume(st, kChannel, amqp_cstring_bytes(options.queue.c_str()), amqp_empty_bytes,
                     /*no_local=*/0, /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
  EDGE_RETURN_IF_ERROR(c->CheckLastRpc("basic.consume on queue '" + options.queue + "'"));
  return ch;
}

Status WorkerChannel::Lost(Status status) {
  if (health_.ok()) health_ = std::move(status);
  return health_;
}

Delivery WorkerChannel::TakeDelivery() {
  Delivery d = std::move(deliveries_.front());
  deliveries_.pop_front();
  return d;
}

Status WorkerChannel::Poll(int timeout_ms) {
  if (!health_.ok()) return health_;
  amqp_connection_state_t st = conn_->state();
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const int64_t left_ms = std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(left_ms / 1000);
    tv.tv_usec = static_cast<suseconds_t>((left_ms % 1000) * 1000);
    // Frames rabbitmq-c already read (e.g. while it waited for an RPC reply) are not on the
    // socket any more: take them without waiting.
    if (amqp_frames_enqueued(st) || amqp_data_in_buffer(st)) tv = timeval{};
    amqp_frame_t frame;
    int rc = amqp_simple_wait_frame_noblock(st, &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) return Status::Ok();
    if (rc != AMQP_STATUS_OK) {
      return Lost(conn_->CheckLibraryStatus(rc, "waiting for deliveries"));
    }
    bool progress = false;
    EDGE_RETURN_IF_ERROR(HandleFrame(frame, &progress));
    if (progress) return Status::Ok();
  }
}

Status WorkerChannel::HandleFrame(const amqp_frame_t& frame, bool* progress) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return Status::Ok();  // stray content: ignore
  amqp_connection_state_t st = conn_->state();
  switch (frame.payload.method.id) {
    case AMQP_BASIC_DELIVER_METHOD: {
      auto* d = static_cast<amqp_basic_deliver_t*>(frame.payload.method.decoded);
      // Copy before amqp_read_message: the method lives in the frame pool.
      const uint64_t tag = d->delivery_tag;
      const bool redelivered = d->redelivered != 0;
      std::string exchange(View(d->exchange));
      std::string routing_key(View(d->routing_key));
      amqp_message_t message;
      amqp_rpc_reply_t r = amqp_read_message(st, frame.channel, &message, 0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        return Lost(conn_->CheckReply(r, "reading a delivery"));
      }
      deliveries_.emplace_back(tag, redelivered, std::move(exchange), std::move(routing_key),
                               message);
      *progress = true;
      return Status::Ok();
    }
    case AMQP_BASIC_ACK_METHOD:
    case AMQP_BASIC_NACK_METHOD: {
      const bool ack = frame.payload.method.id == AMQP_BASIC_ACK_METHOD;
      uint64_t tag;
      bool multiple;
      if (ack) {
        auto* a = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        tag = a->delivery_tag;
        multiple = a->multiple != 0;
      } else {
        auto* n = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
        tag = n->delivery_tag;
        multiple = n->multiple != 0;
      }
      if (pending_seq_ != 0 && (tag == pending_seq_ || (multiple && tag >= pending_seq_))) {
        pending_confirm_ = ack ? Confirm::kAcked : Confirm::kNacked;
        *progress = true;
      }
      return Status::Ok();
    }
    case AMQP_BASIC_RETURN_METHOD: {
      // The returned message follows (header and body frames); it precedes the confirm of the
      // same publish, so it belongs to the publish in flight.
      amqp_message_t message;
      amqp_rpc_reply_t r = amqp_read_message(st, frame.channel, &message, 0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        return Lost(conn_->CheckReply(r, "reading a returned message"));
      }
      amqp_destroy_message(&message);
      pending_returned_ = true;
      return Status::Ok();
    }
    case AMQP_BASIC_CANCEL_METHOD:
      // consumer_cancel_notify: the queue was deleted (or failed over). A new session
      // re-declares and consumes again.
      return Lost(Status::Unavailable("the broker cancelled the consumer on " + description() +
                                      " (queue deleted?)"));
    case AMQP_CONNECTION_BLOCKED_METHOD:
      ops::LogWarning("worker: broker " + description() +
                      " blocked publishing (resource alarm); retries and replies wait");
      return Status::Ok();
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
      ops::LogInfo("worker: broker " + description() + " unblocked publishing");
      return Status::Ok();
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
      return Lost(conn_->HandleBrokerClose(frame.payload.method, "consuming"));
    default:
      return Status::Ok();
  }
}

Status WorkerChannel::PublishConfirmed(const std::string& exchange, const std::string& routing_key,
                                       const amqp_basic_properties_t& properties, amqp_bytes_t body,
                                       bool mandatory, int timeout_ms) {
  if (!health_.ok()) return health_;
  amqp_connection_state_t st = conn_->state();
  pending_seq_ = next_publish_seq_++;
  pending_confirm_ = Confirm::kNone;
  pending_returned_ = false;
  int rc = amqp_basic_publish(st, kChannel, amqp_cstring_bytes(exchange.c_str()),
                              amqp_cstring_bytes(routing_key.c_str()), mandatory ? 1 : 0,
                              /*immediate=*/0, &properties, body);
  if (rc != AMQP_STATUS_OK) return Lost(conn_->CheckLibraryStatus(rc, "basic.publish"));
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (pending_confirm_ == Confirm::kNone) {
    const int64_t left_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left_ms <= 0) {
      // The broker holds a publish it will not confirm (blocked by an alarm, or overloaded).
      // Acting on the original now could lose or duplicate it; start over on a new session.
      return Lost(Status::Timeout("no publisher confirm from " + description() + " within " +
                                  std::to_string(timeout_ms) + " ms"));
    }
    EDGE_RETURN_IF_ERROR(Poll(static_cast<int>(std::min<int64_t>(left_ms, 1000))));
  }
  const Confirm confirm = pending_confirm_;
  pending_seq_ = 0;
  if (confirm == Confirm::kNacked) {
    return Status::IoError("the broker nacked the publish to '" + routing_key + "'");
  }
  if (pending_returned_) {
    return Status::NotFound("no queue took the publish to exchange '" + exchange +
                            "' with routing key '" + routing_key + "'");
  }
  return Status::Ok();
}

Status WorkerChannel::Ack(uint64_t delivery_tag) {
  if (!health_.ok()) return health_;
  int rc = amqp_basic_ack(conn_->state(), kChannel, delivery_tag, /*multiple=*/0);
  if (rc != AMQP_STATUS_OK) return Lost(conn_->CheckLibraryStatus(rc, "basic.ack"));
  return Status::Ok();
}

}  // namespace edge::worker
