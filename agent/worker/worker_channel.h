// WorkerChannel: the worker's AMQP session on one connection (rabbitmq-c through
// amqp::Connection): the consumer and the publisher of retry / dead-letter / reply messages share
// channel 1.
//
// Open() connects, declares (or checks) the worker's queues, sets basic.qos(prefetch), puts the
// channel in confirm mode and starts basic.consume with manual acknowledgement. Poll() reads
// whatever the broker sends: deliveries are queued here (with prefetch > 1 several may arrive
// while a handler runs), confirms and returns resolve the one publish in flight, a
// basic.cancel / channel.close / connection.close ends the session. Every read also lets
// rabbitmq-c send a heartbeat when one is due, which is why the worker calls Poll(0) while a
// handler runs: a 10-minute handler must not cost the connection.
//
// Publishing is one message at a time and PublishConfirmed waits for its confirm: the worker
// acks the original only after the broker has taken the copy, and one outstanding publish keeps
// the confirm bookkeeping trivially correct.
//
// Errors are sticky: once the connection or channel is lost every call returns that Status;
// destroy the session and Open() a new one. Unacked deliveries (in hand or queued here) are then
// requeued by the broker, redelivered with redelivered=1.
//
// Thread-safety: none; the worker's thread owns it.
#pragma once

#include <amqp.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "agent/amqp/connection.h"
#include "agent/worker/delivery.h"
#include "agent/worker/worker_options.h"
#include "port/status.h"

namespace edge::worker {

class WorkerChannel {
 public:
  static Result<std::unique_ptr<WorkerChannel>> Open(const amqp::Endpoint& endpoint,
                                                     const WorkerOptions& options);

  // Reads broker frames for up to timeout_ms (0: only what has already arrived), returning
  // early when a delivery was queued or the publish in flight was settled. OK on timeout.
  Status Poll(int timeout_ms);

  bool has_delivery() const { return !deliveries_.empty(); }
  // REQUIRES: has_delivery().
  Delivery TakeDelivery();

  // Publishes and waits up to timeout_ms for the broker's confirm. With `mandatory`, a message
  // no queue accepted comes back as basic.return. Errors:
  //   kNotFound     returned unroutable (the target queue does not exist)
  //   kIoError      the broker nacked it (it could not take responsibility for the message)
  //   kTimeout      no confirm in time (the session is then considered lost)
  //   kUnavailable  the connection or channel was lost
  Status PublishConfirmed(const std::string& exchange, const std::string& routing_key,
                          const amqp_basic_properties_t& properties, amqp_bytes_t body,
                          bool mandatory, int timeout_ms);

  // basic.ack for one delivery.
  Status Ack(uint64_t delivery_tag);

  // OK while the session works; afterwards why it stopped.
  const Status& health() const { return health_; }
  const std::string& description() const { return conn_->description(); }

 private:
  explicit WorkerChannel(std::unique_ptr<amqp::Connection> conn) : conn_(std::move(conn)) {}
  enum class Confirm { kNone, kAcked, kNacked };
  // Handles one frame; sets *progress when it queued a delivery or settled the publish.
  Status HandleFrame(const amqp_frame_t& frame, bool* progress);
  // Records the first loss; later calls keep it.
  Status Lost(Status status);

  std::unique_ptr<amqp::Connection> conn_;
  std::deque<Delivery> deliveries_;
  Status health_;
  uint64_t next_publish_seq_ = 1;  // confirm-mode sequence of the next publish
  uint64_t pending_seq_ = 0;       // the publish awaiting its confirm (0: none)
  Confirm pending_confirm_ = Confirm::kNone;
  bool pending_returned_ = false;
};

}  // namespace edge::worker
