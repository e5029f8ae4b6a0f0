// FakeBroker: an in-memory broker behind the publisher's BrokerConnector seam, scriptable to
// fail, nack, return, block or drop at chosen moments, so the publisher's logic (window,
// re-send, dead-lettering, fail-over) is proven deterministically, without RabbitMQ.
// The real broker then proves in tests/integration what only it can show.
//
// Thread-safety: every member is guarded by mu_; the publisher thread calls the sessions while
// the test thread scripts and inspects.
#pragma once

#include <condition_variable>
#include <deque>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/publish/broker_session.h"

namespace edge::test {

struct FakeMessage {
  publish::OutgoingMessage meta;  // body view cleared
  std::string body;
  int session = 0;  // which session carried it
};

class FakeBroker {
 public:
  // --- scripting (test thread) ---
  // The next n Connect calls to endpoint i fail (kUnavailable, retryable).
  void FailConnects(size_t endpoint, int n) {
    std::lock_guard<std::mutex> l(mu_);
    fail_connects_[endpoint] += n;
  }
  // Connect calls to endpoint i fail from now on (true) or succeed (false).
  void SetEndpointDown(size_t endpoint, bool down) {
    std::lock_guard<std::mutex> l(mu_);
    if (down) {
      down_.insert(endpoint);
    } else {
      down_.erase(endpoint);
    }
  }
  // The current session dies after n more publishes (its unacked messages are lost).
  void DropAfterPublishes(int n) {
    std::lock_guard<std::mutex> l(mu_);
    drop_after_ = n;
  }
  // While held, publishes are stored but not acked; Release acks them all (multiple).
  void HoldAcks(bool hold) {
    std::lock_guard<std::mutex> l(mu_);
    hold_acks_ = hold;
    if (!hold) FlushHeldLocked();
    cv_.notify_all();
  }
  // Messages to this routing key are returned as unroutable (312 NO_ROUTE), then acked.
  void Unroutable(const std::string& routing_key) {
    std::lock_guard<std::mutex> l(mu_);
    unroutable_.insert(routing_key);
  }
  // Messages whose message_id is in the set are nacked the next `times` times each.
  void NackMessage(const std::string& message_id, int times) {
    std::lock_guard<std::mutex> l(mu_);
    nack_[message_id] = times;
  }
  void Block(bool blocked) {
    std::lock_guard<std::mutex> l(mu_);
    publish::BrokerEvent ev;
    ev.kind = blocked ? publish::BrokerEvent::Kind::kBlocked : publish::BrokerEvent::Kind::kUnblocked;
    ev.reason = "low on memory";
    events_.push_back(ev);
    blocked_ = blocked;
    cv_.notify_all();
  }

  // --- inspection (test thread) ---
  std::vector<FakeMessage> received() const {
    std::lock_guard<std::mutex> l(mu_);
    return received_;
  }
  // The messages after the first `first` received ones: for a caller that follows the log as it
  // grows without copying it all every time.
  std::vector<FakeMessage> received_from(size_t first) const {
    std::lock_guard<std::mutex> l(mu_);
    if (first >= received_.size()) return {};
    return std::vector<FakeMessage>(received_.begin() + static_cast<long>(first), received_.end());
  }
  // Publishes the broker accepted while blocked (must stay 0).
  int published_while_blocked() const {
    std::lock_guard<std::mutex> l(mu_);
    return published_while_blocked_;
  }
  int sessions() const {
    std::lock_guard<std::mutex> l(mu_);
    return session_count_;
  }
  std::vector<size_t> connect_attempts() const {
    std::lock_guard<std::mutex> l(mu_);
    return connect_attempts_;
  }

  std::unique_ptr<publish::BrokerConnector> NewConnector(size_t endpoints);

 private:
  class Session;
  class Connector;
  void FlushHeldLocked() {
    if (held_.empty()) return;
    publish::BrokerEvent ev;
    ev.kind = publish::BrokerEvent::Kind::kAck;
    ev.delivery_tag = held_.back();
    ev.multiple = true;
    events_.push_back(ev);
    held_.clear();
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<size_t, int> fail_connects_;
  std::set<size_t> down_;
  int drop_after_ = -1;
  bool hold_acks_ = false;
  bool blocked_ = false;
  int published_while_blocked_ = 0;
  std::set<std::string> unroutable_;
  std::map<std::string, int> nack_;
  std::vector<FakeMessage> received_;
  std::vector<size_t> connect_attempts_;
  int session_count_ = 0;
  int live_session_ = 0;  // id of the session that may still talk; others are dead
  // The live session's state:
  uint64_t next_tag_ = 1;
  std::vector<uint64_t> held_;
  std::deque<publish::BrokerEvent> events_;
};

class FakeBroker::Session final : public publish::BrokerSession {
 public:
  Session(FakeBroker* b, int id) : b_(b), id_(id) {}
  Status Publish(const publish::OutgoingMessage& m) override {
    std::lock_guard<std::mutex> l(b_->mu_);
    if (b_->live_session_ != id_) return Dead();
    if (b_->drop_after_ == 0) {
      b_->drop_after_ = -1;
      b_->live_session_ = 0;
      return Dead();
    }
    if (b_->drop_after_ > 0) b_->drop_after_--;
    if (b_->blocked_) b_->published_while_blocked_++;
    uint64_t tag = b_->next_tag_++;
    auto nack = b_->nack_.find(m.message_id);
    if (nack != b_->nack_.end() && nack->second > 0) {
      nack->second--;
      publish::BrokerEvent ev;
      ev.kind = publish::BrokerEvent::Kind::kNack;
      ev.delivery_tag = tag;
      b_->events_.push_back(ev);
      return Status::Ok();
    }
    if (b_->unroutable_.count(m.routing_key) != 0) {
      publish::BrokerEvent ret;
      ret.kind = publish::BrokerEvent::Kind::kReturn;
      ret.reply_code = 312;
      ret.reply_text = "NO_ROUTE";
      ret.message_id = m.message_id;
      b_->events_.push_back(ret);
    } else {
      FakeMessage fm;
      fm.meta = m;
      fm.meta.body = std::string_view();
      fm.body = std::string(m.body);
      fm.session = id_;
      b_->received_.push_back(std::move(fm));
    }
    if (b_->hold_acks_) {
      b_->held_.push_back(tag);
    } else {
      publish::BrokerEvent ev;
      ev.kind = publish::BrokerEvent::Kind::kAck;
      ev.delivery_tag = tag;
      b_->events_.push_back(ev);
    }
    return Status::Ok();
  }
  Status NextEvent(int timeout_ms, publish::BrokerEvent* event) override {
    std::unique_lock<std::mutex> l(b_->mu_);
    b_->cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [&] {
      return !b_->events_.empty() || b_->live_session_ != id_;
    });
    if (b_->live_session_ != id_) return Dead();
    if (b_->events_.empty()) return Status::Timeout("no event");
    *event = b_->events_.front();
    b_->events_.pop_front();
    return Status::Ok();
  }
  const amqp::AmqpFailure& failure() const override { return failure_; }
  std::string description() const override { return "fake session " + std::to_string(id_); }

 private:
  Status Dead() {
    failure_.scope = amqp::CloseScope::kTransport;
    failure_.kind = amqp::CloseKind::kRetryable;
    failure_.reply_text = "connection dropped by the fake broker";
    return Status::Unavailable(failure_.reply_text);
  }
  FakeBroker* b_;
  int id_;
  amqp::AmqpFailure failure_;
};

class FakeBroker::Connector final : public publish::BrokerConnector {
 public:
  Connector(FakeBroker* b, size_t n) : b_(b), n_(n) {}
  size_t endpoint_count() const override { return n_; }
  std::string endpoint_name(size_t i) const override { return "fake://" + std::to_string(i); }
  Result<std::unique_ptr<publish::BrokerSession>> Connect(size_t i,
                                                          amqp::AmqpFailure* failure) override {
    std::lock_guard<std::mutex> l(b_->mu_);
    b_->connect_attempts_.push_back(i);
    if (b_->down_.count(i) != 0 || b_->fail_connects_[i] > 0) {
      if (b_->fail_connects_[i] > 0) b_->fail_connects_[i]--;
      if (failure != nullptr) {
        failure->scope = amqp::CloseScope::kTransport;
        failure->kind = amqp::CloseKind::kRetryable;
      }
      return Status::Unavailable("fake endpoint " + std::to_string(i) + " refused the connection");
    }
    int id = ++b_->session_count_;
    b_->live_session_ = id;
    b_->next_tag_ = 1;
    b_->held_.clear();
    b_->events_.clear();
    if (b_->blocked_) b_->blocked_ = false;
    return std::unique_ptr<publish::BrokerSession>(new Session(b_, id));
  }

 private:
  FakeBroker* b_;
  size_t n_;
};

inline std::unique_ptr<publish::BrokerConnector> FakeBroker::NewConnector(size_t endpoints) {
  return std::make_unique<Connector>(this, endpoints);
}

}  // namespace edge::test
