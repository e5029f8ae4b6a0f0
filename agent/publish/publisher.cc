#include "agent/publish/publisher.h"

#include <algorithm>
#include <chrono>

#include "agent/envelope/envelope.h"
#include "agent/ops/log.h"

namespace edge::publish {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

uint64_t Seed(uint64_t configured) {
  if (configured != 0) return configured;
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

// While a window has messages in flight and nothing new to send, the loop alternates between
// waiting for broker events and looking for new durable records at this period.
constexpr int kBusyPollMs = 5;

}  // namespace

Publisher::Publisher(ring::Ring* ring, BrokerConnector* connector, DeadLetterFile* dead_letters,
                     PublisherOptions options)
    : ring_(ring),
      connector_(connector),
      dead_letters_(dead_letters),
      options_(std::move(options)),
      backoff_(options_.backoff_initial_ms, options_.backoff_max_ms, Seed(options_.seed)) {}

Publisher::~Publisher() { Stop(); }

void Publisher::Start() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void Publisher::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

bool Publisher::WaitIdle(int timeout_ms) {
  uint64_t target = ring_->store().next_seq();
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, std::chrono::milliseconds(timeout_ms),
                      [&] { return stats_.confirmed_through >= target; });
}

PublisherStats Publisher::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

void Publisher::SleepFor(int ms) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_for(l, std::chrono::milliseconds(ms), [&] { return stop_ || reconnect_now_; });
}

void Publisher::ReconnectNow() {
  std::lock_guard<std::mutex> l(mu_);
  reconnect_now_ = true;
  cv_.notify_all();
}

void Publisher::Loop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stats_.confirmed_through = ring_->store().head().seq;
  }
  for (;;) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) break;
    }
    if (!EnsureSession()) continue;
    bool more = PublishMore();
    SettlePrefix();
    if (!session_) continue;

    int timeout = 0;
    if (!more) {
      if (window_.empty() && retries_.empty()) {
        // Nothing in flight: wait for new durable records, then look at the connection (this
        // also sends heartbeats), at least every idle_poll_ms.
        ring_->WaitForDurable(cursor_.seq, options_.idle_poll_ms);
      } else {
        timeout = window_.size() >= options_.confirm_window || blocked_ ? options_.idle_poll_ms
                                                                        : kBusyPollMs;
      }
    }
    BrokerEvent ev;
    Status s = session_->NextEvent(timeout, &ev);
    while (s.ok()) {
      HandleEvent(ev);
      s = session_->NextEvent(0, &ev);
    }
    if (s.code() != Code::kTimeout) {
      EndSession(s);
      continue;
    }
    SettlePrefix();
    if (renew_session_ && session_) {
      EndSession(
          Status::Unavailable("the broker nacked a re-published message again on this "
                              "channel; re-sending on a new connection"));
    }
  }
  if (session_) {
    session_.reset();  // closes politely
    std::lock_guard<std::mutex> l(mu_);
    stats_.connected = false;
  }
}

bool Publisher::EnsureSession() {
  if (session_) return true;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (reconnect_now_) {
      reconnect_now_ = false;
      next_connect_ = Clock::now();
      backoff_.Reset();
    }
  }
  auto now = Clock::now();
  if (now < next_connect_) {
    int wait = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(next_connect_ - now).count());
    SleepFor(std::min(wait, options_.idle_poll_ms));
    return false;
  }
  amqp::AmqpFailure failure;
  const size_t n = std::max<size_t>(connector_->endpoint_count(), 1);
  endpoint_ %= n;  // SetEndpoints may have shortened the list
  auto r = connector_->Connect(endpoint_, &failure);
  if (!r.ok()) {
    const bool refused = failure.kind == amqp::CloseKind::kAuthRefused ||
                         failure.kind == amqp::CloseKind::kFatalForRoute;
    const std::string failed = connector_->endpoint_name(endpoint_);
    endpoint_ = (endpoint_ + 1) % n;
    // Fail-over does not wait: while some endpoint of this round is untried, the next attempt
    // goes to it at once, so one endpoint that is down (refused, or silent until the connect or
    // handshake timeout) never delays reaching one that is up. The back-off (or the refused-login
    // wait, if any endpoint of the round refused us) applies once every endpoint failed.
    round_failures_++;
    round_refused_ = round_refused_ || refused;
    int delay = 0;
    if (round_failures_ >= n) {
      delay = round_refused_ ? options_.refused_backoff_ms : backoff_.NextMs();
      round_failures_ = 0;
      round_refused_ = false;
    }
    ops::LogWarning("cannot connect to " + failed + ": " + r.status().message() +
                    "; next attempt " +
                    (delay > 0 ? "in " + std::to_string(delay) + " ms" : "now") +
                    (n > 1 ? " on " + connector_->endpoint_name(endpoint_) : ""));
    {
      std::lock_guard<std::mutex> l(mu_);
      stats_.connect_failures++;
      stats_.last_error = r.status().message();
    }
    next_connect_ = Clock::now() + std::chrono::milliseconds(delay);
    return false;
  }
  round_failures_ = 0;
  round_refused_ = false;
  session_ = std::move(r).value();
  window_.Reset();
  retries_.clear();
  blocked_ = false;
  backoff_.Reset();
  cursor_ = ring_->store().head();
  ops::LogInfo("connected to " + session_->description() + "; sending from seq " +
               std::to_string(cursor_.seq) + " (" +
               std::to_string(ring_->store().next_seq() - cursor_.seq) + " records waiting)");
  std::lock_guard<std::mutex> l(mu_);
  stats_.connected = true;
  stats_.endpoint = session_->description();
  stats_.blocked.clear();
  if (!first_session_) stats_.reconnects++;
  first_session_ = false;
  return true;
}

void Publisher::EndSession(const Status& why) {
  const amqp::AmqpFailure& f = session_->failure();
  bool refused = f.kind == amqp::CloseKind::kAuthRefused ||
                 f.kind == amqp::CloseKind::kFatalForRoute;
  int delay = refused ? options_.refused_backoff_ms : backoff_.NextMs();
  // The next session starts on the next endpoint (as the worker does): the one just lost may be
  // a killed cluster node or a silent path, where a reconnect would only wait for a timeout.
  // With one endpoint this is the same one again.
  const size_t n = std::max<size_t>(connector_->endpoint_count(), 1);
  endpoint_ = (endpoint_ + 1) % n;
  ops::LogWarning("lost " + session_->description() + ": " + why.message() + "; " +
                  std::to_string(window_.size()) +
                  " unconfirmed messages will be sent again; reconnecting in " +
                  std::to_string(delay) + " ms" +
                  (n > 1 ? " to " + connector_->endpoint_name(endpoint_) : ""));
  session_.reset();
  window_.Reset();
  retries_.clear();
  blocked_ = false;
  renew_session_ = false;
  round_failures_ = 0;
  round_refused_ = false;
  next_connect_ = Clock::now() + std::chrono::milliseconds(delay);
  std::lock_guard<std::mutex> l(mu_);
  stats_.connected = false;
  stats_.last_error = why.message();
  stats_.in_flight = 0;
  stats_.blocked.clear();
}

bool Publisher::PublishMore() {
  bool published_any = false;
  // Re-publishes of nacked messages first, once their delay has passed, and even when the
  // window is full: each original keeps its window slot until its re-publish settles it, so
  // waiting for a free slot would wait forever once every slot holds a nacked message. That
  // happens: a quorum queue nacks a whole window of publishes that reached a node while the
  // queue had no leader (the node holding it was just killed). The window stays bounded: a seq
  // is re-published at most nack_retries times.
  for (size_t i = 0; session_ && !blocked_ && i < retries_.size();) {
    if (retries_[i].not_before > Clock::now()) {
      i++;
      continue;
    }
    Retry r = retries_[i];
    retries_.erase(retries_.begin() + static_cast<long>(i));
    ring::Record rec;
    if (!ring_->store().Read(r.pos, &rec, &read_buffer_).ok()) {
      // Dropped (drop_oldest) while waiting for its retry: the ring reports the gap; the
      // original entry must not wait for a retry that cannot happen.
      ConfirmWindow::Entry* original = window_.FindBySeq(r.seq);
      if (original != nullptr) {
        original->retry_resolved = true;
        original->dropped = true;
      }
      continue;
    }
    if (!PublishRecord(rec, r.pos, attempts_[rec.seq] + 1)) return false;
    window_.entries().back().is_retry = true;
    published_any = true;
  }
  while (session_ && !blocked_ && window_.size() < options_.confirm_window) {
    ring::Position head = ring_->store().head();
    if (cursor_.seq < head.seq) cursor_ = head;  // dropped under drop_oldest
    if (cursor_.seq >= ring_->store().next_seq()) return published_any;
    ring::Record rec;
    Status s = ring_->store().Read(cursor_, &rec, &read_buffer_);
    if (s.code() == Code::kNotFound) {
      cursor_ = ring_->store().head();
      continue;
    }
    if (s.code() == Code::kCorruption && rec.next.seq > cursor_.seq) {
      // Damage found at recovery: those records are gone. Count and log once, then go on.
      uint64_t lost = rec.next.seq - cursor_.seq;
      ops::LogError("forwarding skips damaged ring records: " + s.message());
      ConfirmWindow::Entry* e = window_.AddLocal(cursor_.seq, cursor_, rec.next);
      e->damaged = true;
      {
        std::lock_guard<std::mutex> l(mu_);
        stats_.damaged += lost;
      }
      cursor_ = rec.next;
      continue;
    }
    if (!s.ok()) {
      // No way past it is known (damage that appeared after recovery): stop forwarding here,
      // loudly but once per seq, and keep the record; a restart re-runs recovery, which
      // reports the damage with its range and lets forwarding continue after it.
      if (stuck_seq_ != cursor_.seq) {
        ops::LogError("forwarding stopped at seq " + std::to_string(cursor_.seq) +
                      ": cannot read the ring: " + s.message() +
                      "; restart the agent to re-run recovery");
        stuck_seq_ = cursor_.seq;
        std::lock_guard<std::mutex> l(mu_);
        stats_.last_error = s.message();
      }
      return published_any;
    }
    ring::Position pos = cursor_;
    if (!PublishRecord(rec, pos, attempts_[rec.seq] + 1)) return false;
    cursor_ = rec.next;
    published_any = true;
  }
  return published_any;
}

bool Publisher::PublishRecord(const ring::Record& rec, const ring::Position& pos, int attempt) {
  envelope::Envelope env;
  Status ds = envelope::Decode(rec.payload, &env);
  auto route = ds.ok() ? options_.routes.find(env.route) : options_.routes.end();
  if (!ds.ok() || route == options_.routes.end()) {
    // Kept, not forwarded: the dead-letter file gets it before the ring lets it go.
    ConfirmWindow::Entry* e = window_.AddLocal(rec.seq, pos, rec.next);
    e->dl_reason = ds.ok() ? "unknown_route" : "undecodable";
    e->dl_text = ds.ok() ? "route '" + env.route + "' is not configured" : ds.message();
    return true;
  }
  const Route& r = route->second;
  OutgoingMessage m;
  m.exchange = r.exchange;
  m.routing_key = r.routing_key;
  m.message_id = options_.agent_id + ":" + std::to_string(rec.seq);
  m.content_type = env.content_type.empty() ? r.content_type : env.content_type;
  m.timestamp_s = env.accepted_at_ms / 1000;
  m.headers.reserve(env.headers.size() + 4);
  m.headers.emplace_back("x-edge-agent", options_.agent_id);
  m.headers.emplace_back("x-edge-route", r.name);
  m.headers.emplace_back("x-edge-seq", std::to_string(rec.seq));
  m.headers.emplace_back("x-edge-attempt", std::to_string(attempt));
  for (auto& h : env.headers) m.headers.push_back(std::move(h));
  m.body = env.payload;
  Status s = session_->Publish(m);
  if (!s.ok()) {
    EndSession(s);
    return false;
  }
  window_.Add(rec.seq, pos, rec.next, attempt);
  attempts_[rec.seq] = attempt;  // only what reached the wire counts
  std::lock_guard<std::mutex> l(mu_);
  stats_.published++;
  stats_.in_flight = window_.size();
  return true;
}

void Publisher::HandleEvent(const BrokerEvent& ev) {
  switch (ev.kind) {
    case BrokerEvent::Kind::kAck:
      window_.MarkAcked(ev.delivery_tag, ev.multiple);
      break;
    case BrokerEvent::Kind::kNack: {
      size_t n = window_.MarkNacked(ev.delivery_tag, ev.multiple);
      ops::LogWarning("broker nacked " + std::to_string(n) + " message(s) up to delivery tag " +
                      std::to_string(ev.delivery_tag));
      std::lock_guard<std::mutex> l(mu_);
      stats_.nacked += n;
      break;
    }
    case BrokerEvent::Kind::kReturn: {
      // message_id is "<agent_id>:<seq>"; the ack for the same message follows.
      size_t colon = ev.message_id.rfind(':');
      uint64_t seq = 0;
      if (colon != std::string::npos) {
        seq = std::strtoull(ev.message_id.c_str() + colon + 1, nullptr, 10);
      }
      ConfirmWindow::Entry* e = window_.FindBySeq(seq);
      if (e == nullptr) {
        ops::LogWarning("broker returned an unknown message '" + ev.message_id + "': " +
                        std::to_string(ev.reply_code) + " " + ev.reply_text);
        break;
      }
      e->dl_reason = "returned";
      e->dl_code = ev.reply_code;
      e->dl_text = ev.reply_text;
      std::lock_guard<std::mutex> l(mu_);
      stats_.returned++;
      break;
    }
    case BrokerEvent::Kind::kBlocked: {
      blocked_ = true;
      ops::LogWarning("broker blocked publishing: " + ev.reason);
      std::lock_guard<std::mutex> l(mu_);
      stats_.blocked = ev.reason.empty() ? "blocked" : ev.reason;
      break;
    }
    case BrokerEvent::Kind::kUnblocked: {
      blocked_ = false;
      ops::LogInfo("broker unblocked publishing");
      std::lock_guard<std::mutex> l(mu_);
      stats_.blocked.clear();
      break;
    }
  }
}

Status Publisher::DeadLetter(const ConfirmWindow::Entry& e, const std::string& reason,
                             uint16_t reply_code, const std::string& reply_text) {
  ring::Record rec;
  Status s = ring_->store().Read(e.pos, &rec, nullptr);
  if (!s.ok()) return s;
  envelope::Envelope env;
  publish::DeadLetter dl;
  dl.time_ms = NowMs();
  dl.agent_id = options_.agent_id;
  dl.seq = e.seq;
  dl.reason = reason;
  dl.reply_code = reply_code;
  dl.reply_text = reply_text;
  dl.attempts = e.attempt;
  if (envelope::Decode(rec.payload, &env).ok()) {
    dl.route = env.route;
    auto route = options_.routes.find(env.route);
    if (route != options_.routes.end()) {
      dl.exchange = route->second.exchange;
      dl.routing_key = route->second.routing_key;
    }
    dl.headers = std::move(env.headers);
    dl.content_type = env.content_type;
    dl.payload = std::move(env.payload);
  } else {
    dl.payload = std::move(rec.payload);  // the raw record, for forensics
  }
  EDGE_RETURN_IF_ERROR(dead_letters_->Append(dl));
  ops::LogWarning("message " + options_.agent_id + ":" + std::to_string(e.seq) + " (route '" +
                  dl.route + "') written to the dead-letter file " + dead_letters_->path() +
                  ": " + reason + (reply_code ? " " + std::to_string(reply_code) : "") +
                  (reply_text.empty() ? "" : " (" + reply_text + ")"));
  return Status::Ok();
}

void Publisher::SettlePrefix() {
  auto& entries = window_.entries();
  // Anywhere in the window: nacks become retries or dead letters, dead letters get written,
  // settled re-publishes settle their originals.
  for (auto& e : entries) {
    if (e.nacked && !e.retry_scheduled && e.dl_reason.empty()) {
      // A re-publish nacked again on the same channel: the channel may be what is wrong, not
      // the message. Seen with RabbitMQ 3.10 quorum queues: a channel opened on a surviving
      // node while the queue's leader was being re-elected (its node had just been killed)
      // had every publish nacked for minutes, while a new channel worked at once. So the
      // publisher moves to a new session (next endpoint), which re-sends the whole unconfirmed
      // window in order; the nack still counts against nack_retries.
      if (e.is_retry) renew_session_ = true;
      // Only nacks count against nack_retries: re-sends after a reconnect do not.
      int nacks = ++nacks_[e.seq];
      if (nacks <= options_.nack_retries) {
        e.retry_scheduled = true;
        retries_.push_back(Retry{e.seq, e.pos, e.attempt + 1,
                                 Clock::now() + std::chrono::milliseconds(
                                                    options_.nack_retry_delay_ms)});
      } else {
        e.dl_reason = "nacked";
        e.dl_text = "the broker refused it " + std::to_string(nacks) + " time(s)";
      }
    }
    if (!e.dl_reason.empty() && !e.dl_done) {
      Status s = DeadLetter(e, e.dl_reason, e.dl_code, e.dl_text);
      if (!s.ok()) {
        // Kept in the ring; tried again on the next pass.
        ops::LogError("cannot write the dead-letter file: " + s.message() +
                      "; the message stays in the ring");
        break;
      }
      e.dl_done = true;
      std::lock_guard<std::mutex> l(mu_);
      stats_.dead_lettered++;
    }
  }
  for (auto& e : entries) {
    if (!e.is_retry || !(e.acked || e.dl_done)) continue;
    ConfirmWindow::Entry* original = window_.FindBySeq(e.seq);
    if (original == nullptr || original == &e || original->retry_resolved) continue;
    // The re-publish decides the original's outcome: delivered, or dead-lettered (already
    // written by the re-publish's entry, so not written again).
    original->retry_resolved = true;
    if (e.acked && e.dl_reason.empty()) {
      original->acked = true;
    } else {
      original->dl_reason = e.dl_reason;
      original->dl_text = e.dl_text;
      original->dl_code = e.dl_code;
      original->dl_done = true;
    }
  }

  bool moved = false;
  ring::Position last;
  uint64_t confirmed = 0;
  while (ConfirmWindow::Entry* e = window_.Oldest()) {
    bool settled = e->damaged || e->dropped || e->dl_done || e->retry_resolved ||
                   (e->acked && e->dl_reason.empty());
    if (!settled) break;
    const bool delivered = !e->damaged && !e->dropped && e->dl_reason.empty() && e->acked;
    if (!e->is_retry) {
      if (delivered) confirmed++;
      if (outcome_observer_) {
        std::string detail;
        if (e->damaged) {
          detail = "lost to ring damage found at recovery";
        } else if (e->dropped) {
          detail = "dropped from the full ring (drop_oldest) before the broker took it";
        } else if (!delivered) {
          detail = e->dl_reason + (e->dl_code ? " " + std::to_string(e->dl_code) : "") +
                   (e->dl_text.empty() ? "" : " (" + e->dl_text + ")") +
                   "; kept in the dead-letter file";
        }
        outcome_observer_(e->seq, delivered, detail);
      }
    }
    attempts_.erase(e->seq);
    nacks_.erase(e->seq);
    // A re-publish entry settles after entries behind it were popped: never move back.
    if (!moved || e->next.seq > last.seq) last = e->next;
    moved = true;
    window_.PopOldest();
  }
  if (!moved) return;
  Status s = ring_->Acknowledge(last);
  if (!s.ok()) ops::LogError("cannot move the ring head: " + s.message());
  {
    std::lock_guard<std::mutex> l(mu_);
    stats_.confirmed += confirmed;
    stats_.in_flight = window_.size();
    if (last.seq > stats_.confirmed_through) stats_.confirmed_through = last.seq;
    cv_.notify_all();
  }
  if (settled_observer_) settled_observer_(last.seq);
}

}  // namespace edge::publish
