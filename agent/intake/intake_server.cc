#include "agent/intake/intake_server.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <vector>

#include "agent/envelope/envelope.h"
#include "agent/intake/connection.h"
#include "agent/ops/log.h"
#include "port/poller.h"
#include "port/unix_socket.h"
#include "port/wakeup.h"

namespace edge::intake {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunkBytes = 64 << 10;
// Reads per connection per loop round: a fast producer cannot monopolise the loop.
constexpr int kReadsPerRound = 4;
// Answers a client has not read yet, in bytes, beyond which it is not read from (the count
// limit is max_pending_per_connection).
constexpr size_t kMaxUnsentAnswerBytes = 256 << 10;
constexpr int kAcceptsPerRound = 64;
// After accept fails for lack of descriptors or memory, the listener stays readable: pause
// accepting instead of spinning.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
// The loop wakes at least this often even when nothing happens (bounds any missed deadline).
constexpr auto kMaxPollWait = std::chrono::milliseconds(1000);
// One warning line per this interval for events a client can cause at will.
constexpr auto kWarningInterval = std::chrono::seconds(10);
constexpr size_t kMaxEchoedRouteBytes = 64;

// One append's outcome, handed from the ring's writer thread to the loop.
struct Completion {
  uint64_t conn_id = 0;
  uint64_t serial = 0;
  Result<uint64_t> result = Status::Internal("append pending");
  size_t payload_bytes = 0;
  uint64_t record_bytes = 0;  // what the connection counted in flight
};

// The writer thread's way back into the loop. Shared with every pending callback, so a
// callback stays safe whatever happens to the server (Stop still waits for all of them).
class CompletionQueue {
 public:
  explicit CompletionQueue(std::unique_ptr<port::Wakeup> wakeup) : wakeup_(std::move(wakeup)) {}

  // Called on the ring's writer thread: a short lock and an eventfd write, never blocks.
  // Only the push that finds the queue empty signals: the writer completes a whole batch
  // record by record, and one wake-up serves them all. No completion is left unseen because
  // the loop drains the eventfd before TakeAll: a push after TakeAll finds the queue empty and
  // signals; a push between the drain and TakeAll is taken by that TakeAll.
  void Push(Completion c) {
    bool was_empty;
    {
      std::lock_guard<std::mutex> l(mu_);
      was_empty = items_.empty();
      items_.push_back(std::move(c));
    }
    if (was_empty) wakeup_->Signal();
  }
  std::vector<Completion> TakeAll() {
    std::lock_guard<std::mutex> l(mu_);
    std::vector<Completion> out;
    out.swap(items_);
    return out;
  }
  port::Wakeup* wakeup() { return wakeup_.get(); }

 private:
  std::mutex mu_;
  std::vector<Completion> items_;  // guarded by mu_
  std::unique_ptr<port::Wakeup> wakeup_;
};

// Route names come from clients: echo them back escaped and cut, never raw.
std::string Printable(const std::string& s, size_t max) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

AnswerCode CodeForRingError(const Status& s) {
  switch (s.code()) {
    case Code::kRingFull:
      return AnswerCode::kRingFull;
    case Code::kTooLarge:
      return AnswerCode::kTooLarge;
    case Code::kShuttingDown:
      return AnswerCode::kShuttingDown;
    case Code::kIoError:
    case Code::kNoSpace:
    case Code::kUnavailable:
    case Code::kFailedPrecondition:
    case Code::kCorruption:
    case Code::kPermissionDenied:
      return AnswerCode::kIoError;
    default:
      return AnswerCode::kInternal;
  }
}

int MsUntil(Clock::time_point t, Clock::time_point now) {
  if (t <= now) return 0;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - now).count() + 1;
  return static_cast<int>(std::min<int64_t>(ms, std::numeric_limits<int>::max()));
}

}  // namespace

// Everything the loop thread owns. Only stop_requested_ and stats_ are touched by other
// threads; the rest belongs to the loop thread alone and needs no lock.
class IntakeServer::Loop {
 public:
  Loop(ring::Ring* ring, std::set<std::string> routes, const IntakeOptions& options,
       ConfirmTracker* tracker, std::unique_ptr<port::UnixListener> listener,
       std::unique_ptr<port::Wakeup> wakeup)
      : ring_(ring),
        routes_(std::move(routes)),
        options_(options),
        tracker_(tracker),
        listener_(std::move(listener)),
        queue_(std::make_shared<CompletionQueue>(std::move(wakeup))),
        max_record_bytes_(ring->store().geometry().max_payload_bytes()),
        read_buf_(kReadChunkBytes) {}

  void Run();
  void RequestStop() {
    stop_requested_.store(true);
    queue_->wakeup()->Signal();
  }
  void Wake() { queue_->wakeup()->Signal(); }
  IntakeStats stats() const {
    std::lock_guard<std::mutex> l(stats_mu_);
    return stats_;
  }

 private:
  struct Waiter {
    uint64_t conn_id = 0;
    uint64_t serial = 0;
  };
  struct Deadline {
    Clock::time_point at;
    uint64_t seq = 0;
  };

  void BeginStop(Clock::time_point now);
  bool DoneStopping(Clock::time_point now) const;
  int PollTimeoutMs(Clock::time_point now) const;
  void AcceptAll(Clock::time_point now);
  void ReadFrom(Connection* c, Clock::time_point now);
  void PullRequests(Connection* c, Clock::time_point now);
  bool Pressured(const Connection& c) const;
  bool WantsRead(const Connection& c) const;
  void HandleRequest(Connection* c, SendRequest req);
  void HandleParseError(Connection* c);
  void ProcessCompletions(Clock::time_point now);
  void ResolveWaiters();
  void ExpireConfirms(Clock::time_point now);
  void CloseIdle(Clock::time_point now);
  void Answer(Connection* c, uint64_t serial, AnswerCode code, Receipt receipt, uint64_t seq,
              std::string text);
  Connection* Find(uint64_t id);
  void Close(uint64_t id);
  void Warn(const std::string& message, Clock::time_point now);
  template <typename F>
  void Count(F f) {
    std::lock_guard<std::mutex> l(stats_mu_);
    f(stats_);
  }

  ring::Ring* const ring_;
  const std::set<std::string> routes_;
  const IntakeOptions options_;
  ConfirmTracker* const tracker_;
  std::unique_ptr<port::UnixListener> listener_;  // reset at stop: removes the socket file
  std::shared_ptr<CompletionQueue> queue_;
  const uint64_t max_record_bytes_;

  std::atomic<bool> stop_requested_{false};

  mutable std::mutex stats_mu_;
  IntakeStats stats_;  // guarded by stats_mu_

  // Loop thread only:
  std::map<uint64_t, std::unique_ptr<Connection>> conns_;
  uint64_t next_conn_id_ = 1;
  port::Poller poller_;
  std::vector<char> read_buf_;
  uint64_t in_flight_ = 0;              // appends handed to the ring, outcome not yet processed
  std::map<uint64_t, Waiter> waiters_;  // seq -> producer waiting for `confirmed`
  // Confirm deadlines in seq-registration order; since confirm_timeout_ms is fixed, that is also
  // deadline order. Entries whose waiter is gone are skipped.
  std::deque<Deadline> deadlines_;
  bool stopping_ = false;
  Clock::time_point stop_deadline_;
  Clock::time_point accept_resume_;
  Clock::time_point last_warning_;
  uint64_t suppressed_warnings_ = 0;
};

void IntakeServer::Loop::Run() {
  std::vector<std::pair<uint64_t, size_t>> polled;  // connection id, poller index
  for (;;) {
    Clock::time_point now = Clock::now();
    if (stop_requested_.load() && !stopping_) BeginStop(now);
    if (stopping_ && DoneStopping(now)) break;

    poller_.Reset();
    polled.clear();
    const size_t wake_index = poller_.Add(queue_->wakeup()->fd(), port::kPollIn);
    size_t listen_index = SIZE_MAX;
    if (listener_ != nullptr && now >= accept_resume_) {
      listen_index = poller_.Add(listener_->fd(), port::kPollIn);
    }
    for (auto& [id, c] : conns_) {
      uint32_t events = 0;
      if (WantsRead(*c)) events |= port::kPollIn;
      if (c->has_output()) events |= port::kPollOut;
      polled.emplace_back(id, poller_.Add(c->fd(), events));
    }

    Status waited = poller_.Wait(PollTimeoutMs(now));
    now = Clock::now();
    if (!waited.ok()) {
      // poll(2) fails only for EINVAL/ENOMEM/EFAULT; the next round usually succeeds.
      Warn("intake: " + waited.message(), now);
      continue;
    }
    if (poller_.ready(wake_index) != 0) queue_->wakeup()->Drain();
    ProcessCompletions(now);
    ResolveWaiters();
    if (listen_index != SIZE_MAX && poller_.ready(listen_index) != 0) AcceptAll(now);

    for (const auto& [id, index] : polled) {
      Connection* c = Find(id);
      if (c == nullptr) continue;
      const uint32_t ready = poller_.ready(index);
      if (ready == 0) continue;
      if ((ready & port::kPollIn) ||
          ((ready & (port::kPollHangup | port::kPollError)) && WantsRead(*c))) {
        ReadFrom(c, now);
      } else if ((ready & (port::kPollHangup | port::kPollError)) && !(ready & port::kPollOut)) {
        // Gone while we were not reading from it (back-pressure): nobody is left to answer.
        c->Kill();
      }
    }

    ExpireConfirms(now);
    CloseIdle(now);
    // Write what is ready (also answers decided this round, without waiting for POLLOUT),
    // serve requests that were held back by back-pressure, and close what is done.
    std::vector<uint64_t> done;
    for (auto& [id, c] : conns_) {
      if (!c->dead() && c->has_output()) {
        Status s = c->Flush(now);
        if (!s.ok()) c->Kill();
      }
      if (!c->dead() && c->reading() && (c->parser().mid_frame() || c->eof()) && !Pressured(*c)) {
        PullRequests(c.get(), now);
        if (!c->dead() && c->has_output() && !c->Flush(now).ok()) c->Kill();
      }
      if (c->dead() || c->finished()) done.push_back(id);
    }
    for (uint64_t id : done) Close(id);
  }
  conns_.clear();
  Count([](IntakeStats& s) { s.connections_open = 0; });
}

void IntakeServer::Loop::BeginStop(Clock::time_point now) {
  stopping_ = true;
  listener_.reset();  // no new connections; the socket file goes away
  stop_deadline_ = now + std::chrono::milliseconds(options_.stop_flush_ms);
  for (const auto& [seq, w] : waiters_) {
    Connection* c = Find(w.conn_id);
    if (c == nullptr) continue;
    Answer(c, w.serial, AnswerCode::kShuttingDown, Receipt::kDurable, seq,
           "the agent is stopping before the broker confirmed this record; it is durable and "
           "will be delivered after the restart");
  }
  waiters_.clear();
  deadlines_.clear();
  tracker_->SetLowestWaiter(ConfirmTracker::kNoWaiter);
  ops::LogInfo("intake: stopping; " + std::to_string(in_flight_) + " appends in flight, " +
               std::to_string(conns_.size()) + " connections open");
}

bool IntakeServer::Loop::DoneStopping(Clock::time_point now) const {
  // Every append's callback must have run before the loop may end: its answer is owed, and
  // the ring's writer thread must not outlive what it reports to.
  if (in_flight_ > 0) return false;
  if (now >= stop_deadline_) return true;
  for (const auto& [id, c] : conns_) {
    if (!c->dead() && (c->owed() > 0 || c->has_output())) return false;
  }
  return true;
}

int IntakeServer::Loop::PollTimeoutMs(Clock::time_point now) const {
  Clock::time_point wake = now + kMaxPollWait;
  if (!deadlines_.empty()) wake = std::min(wake, deadlines_.front().at);
  if (stopping_) wake = std::min(wake, stop_deadline_);
  if (listener_ != nullptr && accept_resume_ > now) wake = std::min(wake, accept_resume_);
  const auto idle = std::chrono::seconds(options_.idle_timeout_s);
  for (const auto& [id, c] : conns_) {
    if (c->owed() == 0) wake = std::min(wake, c->last_progress() + idle);
  }
  return MsUntil(wake, now);
}

void IntakeServer::Loop::AcceptAll(Clock::time_point now) {
  for (int i = 0; i < kAcceptsPerRound; i++) {
    Result<port::UniqueFd> fd = listener_->Accept();
    if (port::IsWouldBlock(fd.status())) return;
    if (!fd.ok()) {
      Warn("intake: " + fd.status().message() + "; pausing accepts for 100 ms", now);
      accept_resume_ = now + kAcceptPause;
      return;
    }
    if (conns_.size() >= static_cast<size_t>(options_.max_connections)) {
      // Accepted only to be closed: the client sees the end of the stream at once instead of
      // hanging in the backlog. The UniqueFd closes it here.
      Count([](IntakeStats& s) { s.connections_rejected++; });
      Warn("intake: refused a connection: max_connections (" +
               std::to_string(options_.max_connections) + ") are open",
           now);
      continue;
    }
    const uint64_t id = next_conn_id_++;
    conns_.emplace(
        id, std::make_unique<Connection>(id, std::move(fd).value(),
                                         static_cast<uint32_t>(options_.max_frame_bytes), now));
    Count([](IntakeStats& s) {
      s.connections_accepted++;
      s.connections_open++;
    });
  }
}

bool IntakeServer::Loop::Pressured(const Connection& c) const {
  // In-flight bytes matter while the disk is slow (an SD card's sync can take seconds): the
  // request count alone would let one client park max_pending_per_connection full frames in
  // the ring's append queue.
  return c.pending() >= static_cast<size_t>(options_.max_pending_per_connection) ||
         c.unsent_bytes() >= kMaxUnsentAnswerBytes ||
         c.in_flight_bytes() >= static_cast<uint64_t>(options_.max_in_flight_bytes_per_connection);
}

bool IntakeServer::Loop::WantsRead(const Connection& c) const {
  // When not pressured, PullRequests has taken every complete frame, so the parser holds at
  // most one partial frame: reading more is bounded by max_frame_bytes + one chunk.
  return !c.dead() && c.reading() && !c.eof() && !Pressured(c);
}

void IntakeServer::Loop::ReadFrom(Connection* c, Clock::time_point now) {
  for (int i = 0; i < kReadsPerRound && WantsRead(*c); i++) {
    size_t n = 0;
    Status s = port::ReadSome(c->fd(), read_buf_.data(), read_buf_.size(), &n);
    if (port::IsWouldBlock(s)) break;
    if (!s.ok()) {
      c->Kill();
      return;
    }
    if (n == 0) {
      // The client finished sending (it may still read): serve what is buffered, then close.
      c->MarkEof();
    } else {
      c->parser().Feed(std::string_view(read_buf_.data(), n));
    }
    PullRequests(c, now);
    if (n == 0) break;
  }
}

void IntakeServer::Loop::PullRequests(Connection* c, Clock::time_point now) {
  while (c->reading() && !Pressured(*c)) {
    SendRequest req;
    FrameParser::Step step = c->parser().Next(&req);
    if (step == FrameParser::Step::kNeedMore) {
      // After end of stream a partial frame can never complete; the client left without it.
      if (c->eof()) c->StopReading();
      return;
    }
    if (step == FrameParser::Step::kError) {
      HandleParseError(c);
      return;
    }
    c->Touch(now);
    HandleRequest(c, std::move(req));
  }
}

void IntakeServer::Loop::HandleParseError(Connection* c) {
  const FrameParser& p = c->parser();
  const AnswerCode code =
      p.error() == ParseError::kFrameTooLarge ? AnswerCode::kTooLarge : AnswerCode::kBadFrame;
  Count([](IntakeStats& s) {
    s.requests++;
    s.connections_closed_bad_frame++;
  });
  const uint64_t serial = c->AddSlot(p.error_request_id(), false);
  Answer(c, serial, code, Receipt::kNone, 0,
         p.error_text() + (code == AnswerCode::kTooLarge
                               ? "; closing the connection (the frame is not read)"
                               : "; closing the connection (no later frame boundary can be "
                                 "trusted)"));
  Warn("intake: connection " + std::to_string(c->id()) + ": " + ParseErrorName(p.error()) + ": " +
           p.error_text() + "; closing it",
       Clock::now());
  c->StopReading();
}

void IntakeServer::Loop::HandleRequest(Connection* c, SendRequest req) {
  Count([](IntakeStats& s) { s.requests++; });
  const uint64_t serial = c->AddSlot(req.request_id, req.wait_confirmed());
  if (stopping_) {
    Answer(c, serial, AnswerCode::kShuttingDown, Receipt::kNone, 0,
           "the agent is stopping; nothing was stored, send again after it restarts");
    return;
  }
  if (routes_.count(req.route) == 0) {
    Answer(c, serial, AnswerCode::kUnknownRoute, Receipt::kNone, 0,
           "route '" + Printable(req.route, kMaxEchoedRouteBytes) +
               "' is not configured (see the routes section of the agent's config)");
    return;
  }
  envelope::Envelope e;
  e.route = std::move(req.route);
  e.accepted_at_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
  e.headers = std::move(req.headers);
  e.payload = std::move(req.payload);
  Status valid = envelope::Validate(e);
  if (!valid.ok()) {
    Answer(c, serial, AnswerCode::kBadFrame, Receipt::kNone, 0, valid.message());
    return;
  }
  const uint64_t record_bytes = envelope::OverheadBytes(e) + e.payload.size();
  if (record_bytes > max_record_bytes_) {
    Answer(c, serial, AnswerCode::kTooLarge, Receipt::kNone, 0,
           "record of " + std::to_string(record_bytes) + " bytes (payload " +
               std::to_string(e.payload.size()) + " + route and headers) exceeds the ring's " +
               std::to_string(max_record_bytes_) + " bytes per record");
    return;
  }
  const size_t payload_bytes = e.payload.size();
  std::string record = envelope::Encode(e);
  in_flight_++;
  c->AddInFlight(record_bytes);
  ring_->AppendAsync(std::move(record), [q = queue_, id = c->id(), serial, payload_bytes,
                                         record_bytes = record_bytes](Result<uint64_t> r) {
    Completion done;
    done.conn_id = id;
    done.serial = serial;
    done.result = std::move(r);
    done.payload_bytes = payload_bytes;
    done.record_bytes = record_bytes;
    q->Push(std::move(done));
  });
}

void IntakeServer::Loop::ProcessCompletions(Clock::time_point now) {
  std::vector<Completion> items = queue_->TakeAll();
  for (Completion& done : items) {
    in_flight_--;
    if (done.result.ok()) {
      Count([&](IntakeStats& s) {
        s.accepted_payloads++;
        s.accepted_payload_bytes += done.payload_bytes;
      });
    }
    Connection* c = Find(done.conn_id);
    if (c != nullptr) c->FinishInFlight(done.record_bytes);
    uint32_t request_id = 0;
    bool wait_confirmed = false;
    // A client that left before its answer: the record (if durable) stays and is delivered.
    if (c == nullptr || !c->SlotInfo(done.serial, &request_id, &wait_confirmed)) continue;
    if (!done.result.ok()) {
      const Status& s = done.result.status();
      Answer(c, done.serial, CodeForRingError(s), Receipt::kNone, 0, s.message());
      continue;
    }
    const uint64_t seq = done.result.value();
    if (!wait_confirmed) {
      Answer(c, done.serial, AnswerCode::kOk, Receipt::kDurable, seq, "");
      continue;
    }
    if (stopping_) {
      Answer(c, done.serial, AnswerCode::kShuttingDown, Receipt::kDurable, seq,
             "the agent is stopping before the broker confirmed this record; it is durable and "
             "will be delivered after the restart");
      continue;
    }
    waiters_[seq] = Waiter{done.conn_id, done.serial};
    deadlines_.push_back(
        Deadline{now + std::chrono::milliseconds(options_.confirm_timeout_ms), seq});
  }
}

void IntakeServer::Loop::ResolveWaiters() {
  for (;;) {
    const uint64_t settled_below = tracker_->settled_below();
    while (!waiters_.empty() && waiters_.begin()->first < settled_below) {
      const uint64_t seq = waiters_.begin()->first;
      const Waiter w = waiters_.begin()->second;
      waiters_.erase(waiters_.begin());
      Connection* c = Find(w.conn_id);
      if (c == nullptr) continue;
      std::string detail;
      if (tracker_->Lookup(seq, &detail) == ConfirmTracker::Outcome::kNotDelivered) {
        Answer(c, w.serial, AnswerCode::kNotDelivered, Receipt::kDurable, seq,
               "the broker did not take this record (" + detail +
                   "); it is kept in the agent's dead-letter file");
      } else {
        Answer(c, w.serial, AnswerCode::kOk, Receipt::kConfirmed, seq, "");
      }
    }
    const uint64_t lowest = waiters_.empty() ? ConfirmTracker::kNoWaiter : waiters_.begin()->first;
    tracker_->SetLowestWaiter(lowest);
    // A settlement between reading the watermark and publishing `lowest` did not wake us;
    // look once more so it is not left for the next round.
    if (lowest == ConfirmTracker::kNoWaiter || tracker_->settled_below() <= lowest) return;
  }
}

void IntakeServer::Loop::ExpireConfirms(Clock::time_point now) {
  bool removed = false;
  while (!deadlines_.empty() && deadlines_.front().at <= now) {
    const uint64_t seq = deadlines_.front().seq;
    deadlines_.pop_front();
    auto it = waiters_.find(seq);
    if (it == waiters_.end()) continue;  // answered already
    const Waiter w = it->second;
    waiters_.erase(it);
    removed = true;
    Connection* c = Find(w.conn_id);
    if (c == nullptr) continue;
    Answer(c, w.serial, AnswerCode::kTimeout, Receipt::kDurable, seq,
           "no broker confirm within confirm_timeout_ms (" +
               std::to_string(options_.confirm_timeout_ms) +
               " ms); the record is durable and is still being delivered");
  }
  if (removed) ResolveWaiters();  // publishes the new lowest waiter
}

void IntakeServer::Loop::CloseIdle(Clock::time_point now) {
  const auto idle = std::chrono::seconds(options_.idle_timeout_s);
  for (auto& [id, c] : conns_) {
    if (c->dead() || c->owed() > 0 || now - c->last_progress() < idle) continue;
    c->Kill();
    Count([](IntakeStats& s) { s.connections_closed_idle++; });
  }
}

void IntakeServer::Loop::Answer(Connection* c, uint64_t serial, AnswerCode code, Receipt receipt,
                                uint64_t seq, std::string text) {
  intake::Answer a;
  a.code = code;
  a.receipt = receipt;
  a.seq = seq;
  a.text = std::move(text);
  if (!c->Answer(serial, std::move(a))) return;
  Count([code](IntakeStats& s) { s.answers[static_cast<size_t>(code)]++; });
}

Connection* IntakeServer::Loop::Find(uint64_t id) {
  auto it = conns_.find(id);
  return it == conns_.end() || it->second->dead() ? nullptr : it->second.get();
}

void IntakeServer::Loop::Close(uint64_t id) {
  if (conns_.erase(id) == 0) return;
  Count([](IntakeStats& s) { s.connections_open--; });
}

void IntakeServer::Loop::Warn(const std::string& message, Clock::time_point now) {
  // Clients can trigger these at will (garbage, connection floods): one line per interval.
  if (last_warning_ != Clock::time_point() && now - last_warning_ < kWarningInterval) {
    suppressed_warnings_++;
    return;
  }
  std::string line = message;
  if (suppressed_warnings_ > 0) {
    line += " (" + std::to_string(suppressed_warnings_) + " similar warnings suppressed)";
  }
  ops::LogWarning(line);
  last_warning_ = now;
  suppressed_warnings_ = 0;
}

// --- IntakeServer -------------------------------------------------------------------------------

IntakeServer::IntakeServer(const IntakeOptions& options, uint64_t settled_below)
    : options_(options), tracker_(settled_below) {}

Result<std::unique_ptr<IntakeServer>> IntakeServer::Start(ring::Ring* ring,
                                                          std::set<std::string> routes,
                                                          const IntakeOptions& o) {
  auto bad = [](const std::string& m) { return Status::InvalidArgument("intake: " + m); };
  if (ring == nullptr) return bad("no ring");
  if (o.socket_path.empty()) return bad("socket_path is empty");
  if (o.max_frame_bytes < kMinSendFrameLen || o.max_frame_bytes > 0xffffffffull) {
    return bad("max_frame_bytes must be " + std::to_string(kMinSendFrameLen) + "..4294967295");
  }
  if (o.max_connections < 1) return bad("max_connections must be at least 1");
  if (o.idle_timeout_s < 1) return bad("idle_timeout_s must be at least 1");
  if (o.max_pending_per_connection < 1) return bad("max_pending_per_connection must be >= 1");
  if (o.max_in_flight_bytes_per_connection < 1) {
    return bad("max_in_flight_bytes_per_connection must be >= 1");
  }
  if (o.confirm_timeout_ms < 1) return bad("confirm_timeout_ms must be at least 1");
  if (o.stop_flush_ms < 0) return bad("stop_flush_ms must not be negative");

  auto wakeup = port::Wakeup::Create();
  if (!wakeup.ok()) return wakeup.status().WithContext("intake");
  auto listener = port::UnixListener::Listen(o.socket_path, o.socket_mode);
  if (!listener.ok()) return listener.status();

  std::unique_ptr<IntakeServer> server(new IntakeServer(o, ring->store().head().seq));
  const size_t route_count = routes.size();
  server->loop_ = std::make_unique<Loop>(ring, std::move(routes), o, &server->tracker_,
                                         std::move(listener).value(), std::move(wakeup).value());
  server->thread_ = std::thread([l = server->loop_.get()] { l->Run(); });
  char mode[16];
  std::snprintf(mode, sizeof(mode), "%04o", o.socket_mode);
  ops::LogInfo("intake: listening on " + o.socket_path + " (mode " + mode + ", " +
               std::to_string(route_count) + " routes, max_frame_bytes " +
               std::to_string(o.max_frame_bytes) + ")");
  return server;
}

IntakeServer::~IntakeServer() { Stop(); }

void IntakeServer::Stop() {
  std::lock_guard<std::mutex> l(stop_mu_);
  if (!thread_.joinable()) return;
  loop_->RequestStop();
  thread_.join();
  IntakeStats s = loop_->stats();
  ops::LogInfo("intake: stopped; " + std::to_string(s.accepted_payloads) + " payloads accepted, " +
               std::to_string(s.connections_accepted) + " connections");
}

void IntakeServer::OnSettled(uint64_t seq, bool delivered, const std::string& detail) {
  if (tracker_.Settle(seq, delivered, detail)) loop_->Wake();
}

IntakeStats IntakeServer::stats() const { return loop_->stats(); }

}  // namespace edge::intake
