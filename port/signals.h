// Process signals as events: SIGTERM/SIGINT (stop) and SIGHUP (reload) are blocked in every
// thread and read synchronously by the main thread through a signalfd, so no handler runs in
// an arbitrary thread at an arbitrary point.
//
// REQUIRES: SignalWaiter is created in main() before any other thread starts, so every thread
// inherits the blocked mask.
#pragma once

#include <memory>

#include "port/status.h"
#include "port/unique_fd.h"

namespace edge::port {

enum class SignalEvent { kNone, kStop, kReload };

class SignalWaiter {
 public:
  static Result<std::unique_ptr<SignalWaiter>> Create();
  // Waits up to timeout_ms for SIGTERM/SIGINT (kStop) or SIGHUP (kReload); kNone on timeout.
  SignalEvent Wait(int timeout_ms);

 private:
  explicit SignalWaiter(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace edge::port
