// Publisher: forwards the ring's durable records to the broker, in order, with publisher
// confirms, and moves the ring head only over what the broker confirmed.
//
// The loop (one thread):
//   connect (endpoints in turn: after a failed connect or a lost session the next endpoint is
//      tried; back-off with jitter only once every endpoint of a round failed)
//   -> read from the ring head: after any reconnect every unconfirmed record is sent again,
//      in order (duplicates only from the unconfirmed window; message_id lets consumers drop them)
//   -> publish while fewer than confirm_window are unconfirmed and the broker has not blocked us
//   -> drain acks / nacks / returns, servicing heartbeats at least every idle_poll_ms
//   -> the settled prefix moves the ring head (RingStore::Acknowledge)
//
// Nothing is silent: a returned message (unroutable) or one nacked more than nack_retries
// times goes to the dead-letter file (synced) before the ring head moves past it; a record
// whose route is no longer configured, or that cannot be decoded, likewise. A damaged ring
// range found at recovery is counted and logged with its seqs.
//
// Every message: delivery_mode 2 (persistent), mandatory, message_id "<agent_id>:<seq>",
// timestamp (intake time), content type, headers x-edge-agent, x-edge-route, x-edge-seq,
// x-edge-attempt plus the producer's own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "agent/amqp/backoff.h"
#include "agent/publish/broker_session.h"
#include "agent/publish/confirm_window.h"
#include "agent/publish/dead_letter_file.h"
#include "agent/publish/topology.h"
#include "agent/ring/ring.h"

namespace edge::publish {

struct PublisherOptions {
  std::string agent_id = "edge-agent";
  std::map<std::string, Route> routes;  // by route name
  uint32_t confirm_window = 512;        // messages published and not yet confirmed
  int nack_retries = 2;                 // re-publishes of a nacked message before dead-letter
  int nack_retry_delay_ms = 1000;
  int backoff_initial_ms = 250;
  int backoff_max_ms = 30000;
  int refused_backoff_ms = 60000;  // after auth refused / fatal for a route: operator needed
  int idle_poll_ms = 100;          // longest wait without servicing the connection
  uint64_t seed = 0;               // jitter seed (0: random)
};

struct PublisherStats {
  bool connected = false;
  std::string endpoint;      // the connected endpoint (safe to log)
  std::string last_error;    // why the last session ended or the last connect failed
  std::string blocked;       // non-empty while the broker has blocked publishing
  uint64_t published = 0;    // basic.publish calls, re-sends included
  uint64_t confirmed = 0;    // records settled by a broker ack
  uint64_t returned = 0;     // basic.return (unroutable) -> dead-letter file
  uint64_t nacked = 0;       // basic.nack events
  uint64_t dead_lettered = 0;
  uint64_t damaged = 0;      // records lost to ring damage found at recovery
  uint64_t reconnects = 0;   // sessions opened after the first
  uint64_t connect_failures = 0;
  uint64_t in_flight = 0;    // unconfirmed messages on the current channel
  uint64_t confirmed_through = 0;  // every seq below this is settled
};

class Publisher {
 public:
  // ring, connector and dead_letters must outlive the publisher.
  Publisher(ring::Ring* ring, BrokerConnector* connector, DeadLetterFile* dead_letters,
            PublisherOptions options);
  ~Publisher();

  // Runs the loop on its own thread until Stop().
  void Start();
  // Asks the loop to stop, waits for it. Unconfirmed records stay in the ring.
  void Stop();
  // Drops any back-off wait and connects at once (SIGHUP after the operator fixed the
  // credentials: the next attempt should not wait out the refused-login back-off).
  void ReconnectNow();
  // Waits until every record now durable in the ring is settled, or timeout_ms passes.
  bool WaitIdle(int timeout_ms);

  // Called on the publisher thread each time the settled prefix grows (the seq below which
  // everything is settled): the intake answers `--wait confirmed` producers from it.
  void SetSettledObserver(std::function<void(uint64_t settled_below)> observer) {
    settled_observer_ = std::move(observer);
  }

  // Called on the publisher thread for every record as it leaves the window, in seq order:
  // delivered = the broker confirmed it; otherwise detail says why it is not delivered (it is
  // in the dead-letter file, or lost to ring damage). Set before Start().
  void SetOutcomeObserver(
      std::function<void(uint64_t seq, bool delivered, const std::string& detail)> observer) {
    outcome_observer_ = std::move(observer);
  }

  PublisherStats stats() const;

 private:
  struct Retry {
    uint64_t seq;
    ring::Position pos;
    int attempt;
    std::chrono::steady_clock::time_point not_before;
  };
  void Loop();
  bool EnsureSession();
  void EndSession(const Status& why);
  // Publishes the record at pos (or settles it locally). False when the session was lost.
  bool PublishRecord(const ring::Record& rec, const ring::Position& pos, int attempt);
  bool PublishMore();
  void HandleEvent(const BrokerEvent& event);
  void SettlePrefix();
  Status DeadLetter(const ConfirmWindow::Entry& e, const std::string& reason,
                    uint16_t reply_code, const std::string& reply_text);
  void SleepFor(int ms);

  ring::Ring* ring_;
  BrokerConnector* connector_;
  DeadLetterFile* dead_letters_;
  const PublisherOptions options_;
  amqp::Backoff backoff_;

  // Publisher thread only:
  std::unique_ptr<BrokerSession> session_;
  size_t endpoint_ = 0;         // the endpoint the next Connect tries
  size_t round_failures_ = 0;   // failed connects since the last success or full round
  bool round_refused_ = false;  // one of them was refused (login, or fatal for a route)
  bool first_session_ = true;
  std::chrono::steady_clock::time_point next_connect_;
  ConfirmWindow window_;
  ring::Position cursor_;
  ring::RingStore::ReadBuffer read_buffer_;
  std::unordered_map<uint64_t, int> attempts_;  // seq -> publishes so far, unsettled seqs only
  std::unordered_map<uint64_t, int> nacks_;     // seq -> nacks so far, unsettled seqs only
  std::vector<Retry> retries_;
  bool blocked_ = false;
  bool renew_session_ = false;  // a re-publish was nacked again: move to a new session
  uint64_t stuck_seq_ = 0;  // seq the cursor cannot read past (logged once)
  std::function<void(uint64_t)> settled_observer_;
  std::function<void(uint64_t, bool, const std::string&)> outcome_observer_;

  mutable std::mutex mu_;
  std::condition_variable cv_;  // Stop wakes the loop; WaitIdle waits for progress
  PublisherStats stats_;        // guarded by mu_
  bool stop_ = false;           // guarded by mu_
  bool reconnect_now_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace edge::publish
