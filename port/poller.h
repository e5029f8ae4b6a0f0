// Poller: a small poll(2) wrapper for one thread's event loop.
//
// The loop rebuilds the set every iteration (Reset, Add per descriptor, Wait, then ready(i)):
// with at most a few hundred local connections that is cheaper to reason about than keeping
// an epoll set in step with connection state, and it makes the interest set a pure function of
// that state (a connection under back-pressure simply is not added for reading).
//
// Thread-safety: none; one Poller belongs to one thread.
#pragma once

#include <poll.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "port/status.h"

namespace edge::port {

// Interest and readiness bits (our own, so callers need no <poll.h> constants).
constexpr uint32_t kPollIn = 1u << 0;      // readable, or end of stream / a pending connection
constexpr uint32_t kPollOut = 1u << 1;     // writable
constexpr uint32_t kPollHangup = 1u << 2;  // ready only: the peer hung up
constexpr uint32_t kPollError = 1u << 3;   // ready only: an error is pending on the descriptor

class Poller {
 public:
  void Reset() { fds_.clear(); }
  // Adds fd with interest `events` (kPollIn | kPollOut, or 0 to watch only for hang-up and
  // errors); returns its index for ready().
  size_t Add(int fd, uint32_t events);
  size_t size() const { return fds_.size(); }

  // Waits up to timeout_ms (-1: no limit) for any descriptor to become ready. OK also when a
  // signal interrupted the wait (then nothing is ready). kIoError for anything else.
  Status Wait(int timeout_ms);

  // What the last Wait found for the descriptor at index: kPollIn | kPollOut | kPollHangup |
  // kPollError bits, 0 when nothing.
  uint32_t ready(size_t index) const;

 private:
  std::vector<pollfd> fds_;
};

}  // namespace edge::port
