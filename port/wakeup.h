// Wakeup: lets any thread wake a poll loop (an eventfd).
//
// The loop adds fd() to its Poller for reading and calls Drain() when it is readable; any
// thread may call Signal() at any time, any number of times: signals between two Drains
// coalesce into one wake-up. Signal() never blocks, so it is safe from callbacks that must not
// block (the ring's writer thread).
//
// Thread-safety: Signal() from any thread; Drain() and fd() from the loop's thread.
#pragma once

#include <memory>

#include "port/status.h"
#include "port/unique_fd.h"

namespace edge::port {

class Wakeup {
 public:
  static Result<std::unique_ptr<Wakeup>> Create();

  void Signal();
  void Drain();
  int fd() const { return fd_.get(); }

 private:
  explicit Wakeup(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace edge::port
