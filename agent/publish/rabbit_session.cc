#include "agent/publish/rabbit_session.h"

#include <amqp_framing.h>
#include <sys/time.h>

namespace edge::publish {
namespace {

amqp_bytes_t Bytes(const std::string& s) {
  return s.empty() ? amqp_empty_bytes : amqp_cstring_bytes(s.c_str());
}

std::string ToString(amqp_bytes_t b) {
  return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

}  // namespace

size_t RabbitConnector::endpoint_count() const {
  std::lock_guard<std::mutex> l(mu_);
  return endpoints_.size();
}

std::string RabbitConnector::endpoint_name(size_t i) const {
  std::lock_guard<std::mutex> l(mu_);
  return i < endpoints_.size() ? endpoints_[i].Url() : "?";
}

void RabbitConnector::SetEndpoints(std::vector<amqp::Endpoint> endpoints) {
  std::lock_guard<std::mutex> l(mu_);
  endpoints_ = std::move(endpoints);
}

Result<std::unique_ptr<BrokerSession>> RabbitConnector::Connect(size_t i,
                                                                amqp::AmqpFailure* failure) {
  amqp::Endpoint endpoint;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (endpoints_.empty()) return Status::FailedPrecondition("no broker endpoint configured");
    endpoint = endpoints_[i % endpoints_.size()];
  }
  auto conn = amqp::Connection::Connect(endpoint, failure);
  if (!conn.ok()) return conn.status();
  amqp::Connection* c = conn->get();
  Status s = DeclareTopology(c, topology_);
  if (!s.ok()) {
    if (failure != nullptr) *failure = c->last_failure();
    return s;
  }
  amqp_confirm_select(c->state(), amqp::Connection::kChannel);
  s = c->CheckLastRpc("confirm.select");
  if (!s.ok()) {
    if (failure != nullptr) *failure = c->last_failure();
    return s;
  }
  return std::unique_ptr<BrokerSession>(new RabbitSession(std::move(conn).value()));
}

Status RabbitSession::Lost(const Status& s) {
  failure_ = conn_->last_failure();
  if (failure_.ok()) {
    failure_.scope = amqp::CloseScope::kTransport;
    failure_.kind = amqp::CloseKind::kRetryable;
    failure_.reply_text = s.message();
  }
  return s;
}

Status RabbitSession::Publish(const OutgoingMessage& m) {
  std::vector<amqp_table_entry_t> entries(m.headers.size());
  for (size_t i = 0; i < m.headers.size(); i++) {
    entries[i].key = Bytes(m.headers[i].first);
    entries[i].value.kind = AMQP_FIELD_KIND_UTF8;  // AMQP longstr: binary-safe
    entries[i].value.value.bytes.len = m.headers[i].second.size();
    entries[i].value.value.bytes.bytes = const_cast<char*>(m.headers[i].second.data());
  }
  amqp_basic_properties_t props;
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                 AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_HEADERS_FLAG;
  props.content_type = Bytes(m.content_type);
  props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  props.message_id = Bytes(m.message_id);
  props.timestamp = m.timestamp_s;
  props.headers.num_entries = static_cast<int>(entries.size());
  props.headers.entries = entries.empty() ? nullptr : entries.data();
  amqp_bytes_t body;
  body.len = m.body.size();
  body.bytes = const_cast<char*>(m.body.data());
  int rc = amqp_basic_publish(conn_->state(), amqp::Connection::kChannel, Bytes(m.exchange),
                              Bytes(m.routing_key), /*mandatory=*/1, /*immediate=*/0, &props,
                              body);
  if (rc != AMQP_STATUS_OK) return Lost(conn_->CheckLibraryStatus(rc, "basic.publish"));
  return Status::Ok();
}

Status RabbitSession::NextEvent(int timeout_ms, BrokerEvent* event) {
  amqp_connection_state_t st = conn_->state();
  if (++publishes_since_release_ % 1024 == 0) amqp_maybe_release_buffers(st);
  struct timeval tv;
  tv.tv_sec = timeout_ms / 1000;
  tv.tv_usec = (timeout_ms % 1000) * 1000;
  if (amqp_frames_enqueued(st) || amqp_data_in_buffer(st)) {
    tv.tv_sec = 0;
    tv.tv_usec = 0;
  }
  amqp_frame_t frame;
  int rc = amqp_simple_wait_frame_noblock(st, &frame, &tv);
  if (rc == AMQP_STATUS_TIMEOUT) return Status::Timeout("no broker event");
  if (rc != AMQP_STATUS_OK) return Lost(conn_->CheckLibraryStatus(rc, "waiting for confirms"));
  if (frame.frame_type != AMQP_FRAME_METHOD) {
    return Status::Timeout("ignored a non-method frame");
  }
  *event = BrokerEvent();
  switch (frame.payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
      auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      event->kind = BrokerEvent::Kind::kAck;
      event->delivery_tag = ack->delivery_tag;
      event->multiple = ack->multiple != 0;
      return Status::Ok();
    }
    case AMQP_BASIC_NACK_METHOD: {
      auto* nack = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
      event->kind = BrokerEvent::Kind::kNack;
      event->delivery_tag = nack->delivery_tag;
      event->multiple = nack->multiple != 0;
      return Status::Ok();
    }
    case AMQP_BASIC_RETURN_METHOD: {
      auto* ret = static_cast<amqp_basic_return_t*>(frame.payload.method.decoded);
      event->kind = BrokerEvent::Kind::kReturn;
      event->reply_code = ret->reply_code;
      event->reply_text = ToString(ret->reply_text);
      amqp_message_t message;
      amqp_rpc_reply_t r = amqp_read_message(st, frame.channel, &message, 0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        return Lost(conn_->CheckReply(r, "reading a returned message"));
      }
      if (message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
        event->message_id = ToString(message.properties.message_id);
      }
      amqp_destroy_message(&message);
      return Status::Ok();
    }
    case AMQP_CONNECTION_BLOCKED_METHOD: {
      auto* b = static_cast<amqp_connection_blocked_t*>(frame.payload.method.decoded);
      event->kind = BrokerEvent::Kind::kBlocked;
      event->reason = ToString(b->reason);
      return Status::Ok();
    }
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
      event->kind = BrokerEvent::Kind::kUnblocked;
      return Status::Ok();
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
      return Lost(conn_->HandleBrokerClose(frame.payload.method, "publishing"));
    default:
      return Status::Timeout("ignored method " + std::to_string(frame.payload.method.id));
  }
}

}  // namespace edge::publish
