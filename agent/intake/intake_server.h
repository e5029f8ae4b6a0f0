// IntakeServer: the Unix socket where local programs hand payloads to the agent
// (protocol in agent/intake/protocol.h, user guide in docs/PROTOCOL.md).
//
// One thread runs a poll loop over the listener, every client socket (all non-blocking) and a
// Wakeup. Each SEND becomes an Envelope (route, headers, payload, accepted_at_ms) appended with
// Ring::AppendAsync; the ring's writer thread hands the outcome back through a queue and the
// Wakeup, and the loop answers `durable` with the seq, or the error. A producer that asked for
// `confirmed` is answered when the publisher settles the seq (OnSettled), or with `timeout`
// after confirm_timeout_ms.
//
// What one client can and cannot do to the others:
// - Frames are parsed incrementally per connection; a partial frame (slowloris) holds only
//   that connection's buffer and is closed by the idle timeout.
// - A frame longer than max_frame_bytes is refused from its 10-byte head (answer too_large,
//   then the connection closes): its body is never buffered.
// - Malformed framing: answer bad_frame (after the answers of every earlier request), then the
//   connection closes, since no later frame boundary can be trusted. A well-framed request
//   whose content is invalid (reserved x-edge-* header, too many headers, a value too long)
//   gets bad_frame too, but the connection stays open.
// - Back-pressure: a connection with max_pending_per_connection requests unanswered or
//   answers unread, or with max_in_flight_bytes_per_connection of records handed to the ring
//   and not yet written (a slow disk), is not read from until it catches up. Its memory is
//   bounded by about max_frame_bytes + 64 KiB of input, max_in_flight_bytes_per_connection
//   + max_frame_bytes of records in the ring's append queue, and its pending answers.
// - Connections beyond max_connections are accepted and closed at once without an answer
//   (the client sees end of stream / connection reset; the C client reports
//   EDGE_AGENT_E_CLOSED), counted in stats().connections_rejected.
// - Idle: a connection the agent owes nothing (every request answered) that made no progress
//   (no complete request received, no answer bytes taken) for idle_timeout_s is closed.
// The ring is shared fairly: every append goes through the ring's own queue, batched.
//
// Thread-safety: Start, Stop, OnSettled and stats may be called from any thread. The ring must
// outlive the server. Destroying the server calls Stop.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "agent/intake/confirm_tracker.h"
#include "agent/intake/protocol.h"
#include "agent/ring/ring.h"
#include "port/status.h"

namespace edge::intake {

struct IntakeOptions {
  std::string socket_path = "/run/edge-agent/intake.sock";
  uint32_t socket_mode = 0660;
  // Cap on a request frame (frame_len). Records must also fit one ring segment
  // (ring geometry max_payload_bytes), which is checked per request.
  uint64_t max_frame_bytes = 1 << 20;
  int64_t max_connections = 64;
  int64_t idle_timeout_s = 60;
  int64_t max_pending_per_connection = 256;
  // Bytes of records a connection may have handed to the ring and not yet seen written (the
  // ring's append queue holds them): beyond this the connection is not read from until the
  // disk catches up. One frame is always taken when nothing is in flight.
  int64_t max_in_flight_bytes_per_connection = 1 << 20;
  int64_t confirm_timeout_ms = 30000;
  // At Stop: how long answers may wait for slow readers before their connections are closed.
  int64_t stop_flush_ms = 2000;
};

struct IntakeStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_rejected = 0;  // over max_connections
  uint64_t connections_open = 0;
  uint64_t connections_closed_idle = 0;
  uint64_t connections_closed_bad_frame = 0;  // framing errors and frames over max_frame_bytes
  uint64_t requests = 0;
  uint64_t accepted_payloads = 0;  // made durable in the ring
  uint64_t accepted_payload_bytes = 0;
  std::array<uint64_t, kAnswerCodeCount> answers{};  // answers sent, by AnswerCode
};

class IntakeServer {
 public:
  // Listens on options.socket_path and starts the loop thread. routes: the configured route
  // names; anything else is answered unknown_route. kInvalidArgument names a bad option;
  // listener errors come from port::UnixListener::Listen.
  static Result<std::unique_ptr<IntakeServer>> Start(ring::Ring* ring, std::set<std::string> routes,
                                                     const IntakeOptions& options);
  ~IntakeServer();
  IntakeServer(const IntakeServer&) = delete;
  IntakeServer& operator=(const IntakeServer&) = delete;

  // Stops accepting (the socket file is removed), answers shutting_down to new requests and to
  // producers still waiting for `confirmed` (with receipt durable and their seq), waits for
  // every append in flight (their answers still go out), gives slow readers up to
  // stop_flush_ms, closes every connection and joins the loop. Idempotent; blocks.
  void Stop();

  // The publisher settled seq: delivered = the broker confirmed it; otherwise it was
  // dead-lettered and detail says why. Cheap and non-blocking (the publisher thread calls it
  // per record). REQUIRES: seqs in increasing order (a skipped seq counts as not delivered).
  void OnSettled(uint64_t seq, bool delivered, const std::string& detail);

  IntakeStats stats() const;
  const IntakeOptions& options() const { return options_; }

 private:
  class Loop;
  IntakeServer(const IntakeOptions& options, uint64_t settled_below);

  const IntakeOptions options_;
  ConfirmTracker tracker_;
  std::unique_ptr<Loop> loop_;  // everything the loop thread owns
  std::thread thread_;
  std::mutex stop_mu_;  // serialises Stop callers; guards nothing else
};

}  // namespace edge::intake
