// Connection: one client of the intake, as the server's loop sees it.
//
// It holds what must stay per client so that one client can never hurt another: its own
// parser (one partial frame at most), its own answer queue in request order, and its own
// output buffer. The server bounds all three (see IntakeServer): it stops reading from a
// client whose answers pile up, so a client that does not read cannot grow the agent's memory.
//
// Answer slots. Every request gets a slot when it is parsed, identified by a serial number
// that increases by one per request on this connection. Answers may be decided out of order
// (an unknown route is answered at once, an append only when its batch is durable), but they
// are written in order: only the answered prefix of the slot queue moves to the output buffer.
//
// Thread-safety: none; owned and used by the server's loop thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "agent/intake/protocol.h"
#include "port/status.h"
#include "port/unique_fd.h"

namespace edge::intake {

class Connection {
 public:
  using Clock = std::chrono::steady_clock;

  Connection(uint64_t id, port::UniqueFd fd, uint32_t max_frame_bytes, Clock::time_point now)
      : id_(id), fd_(std::move(fd)), parser_(max_frame_bytes), last_progress_(now) {}

  uint64_t id() const { return id_; }
  int fd() const { return fd_.get(); }
  FrameParser& parser() { return parser_; }

  // Queues a slot for a request just parsed; returns its serial.
  uint64_t AddSlot(uint32_t request_id, bool wait_confirmed);
  // The request_id and wait flag of an unanswered slot; false when there is no such slot
  // (already answered, or never existed).
  bool SlotInfo(uint64_t serial, uint32_t* request_id, bool* wait_confirmed) const;
  // Records the answer of an unanswered slot (its request_id is filled in here) and moves the
  // answered prefix of the queue into the output buffer. Returns false when there is no such
  // unanswered slot.
  bool Answer(uint64_t serial, Answer answer);

  // Requests not yet answered: work the agent still owes this client.
  size_t owed() const { return owed_; }
  // Slots in the queue (answered or not) plus answers in the output buffer not yet written:
  // what back-pressure counts.
  size_t pending() const { return slots_.size() + unsent_answers_; }
  size_t unsent_bytes() const { return out_.size() - out_pos_; }

  // Bytes of this client's records handed to the ring whose outcome has not come back: they
  // sit in the ring's append queue until written, so back-pressure counts them too.
  void AddInFlight(uint64_t bytes) { in_flight_bytes_ += bytes; }
  void FinishInFlight(uint64_t bytes) { in_flight_bytes_ -= bytes; }
  uint64_t in_flight_bytes() const { return in_flight_bytes_; }
  bool has_output() const { return unsent_bytes() > 0; }

  // Writes as much of the output as the socket takes now. OK (maybe nothing written: the
  // socket is full), or kUnavailable/kIoError when the client is gone.
  Status Flush(Clock::time_point now);

  // The client made progress: a whole request arrived or answer bytes left.
  void Touch(Clock::time_point now) { last_progress_ = now; }
  Clock::time_point last_progress() const { return last_progress_; }

  // No more requests: after end of stream from the client or a framing error. The connection
  // closes once every slot is answered and the output is written.
  void StopReading() { reading_ = false; }
  bool reading() const { return reading_; }
  // The client closed its sending side: requests already buffered are still served.
  void MarkEof() { eof_ = true; }
  bool eof() const { return eof_; }
  bool finished() const { return !reading_ && slots_.empty() && !has_output(); }

  // The socket failed or the client is gone: close without writing anything more.
  void Kill() { dead_ = true; }
  bool dead() const { return dead_; }

 private:
  struct Slot {
    uint32_t request_id = 0;
    bool wait_confirmed = false;
    bool answered = false;
    std::string bytes;  // the encoded answer once answered
  };
  // The unanswered slot with this serial, or nullptr.
  const Slot* Find(uint64_t serial) const;
  void CompactOutput();
  static constexpr size_t kCompactBytes = 64 << 10;

  uint64_t id_;
  port::UniqueFd fd_;
  FrameParser parser_;
  Clock::time_point last_progress_;
  bool reading_ = true;
  bool eof_ = false;
  bool dead_ = false;

  std::deque<Slot> slots_;  // slots_[i] has serial first_serial_ + i
  uint64_t first_serial_ = 0;
  size_t owed_ = 0;
  uint64_t in_flight_bytes_ = 0;

  // Answers ready to write, in order; bytes before out_pos_ are written. answer_ends_ holds
  // the end offset of each answer in out_, to count whole answers still unsent.
  std::string out_;
  size_t out_pos_ = 0;
  std::deque<size_t> answer_ends_;
  size_t unsent_answers_ = 0;
};

}  // namespace edge::intake
