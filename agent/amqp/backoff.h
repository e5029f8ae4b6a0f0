// Exponential back-off with jitter for broker reconnects (the publisher and the worker): a
// fleet of gateways that lost the same broker must not come back in lock-step.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>

namespace edge::amqp {

class Backoff {
 public:
  Backoff(int initial_ms, int max_ms, uint64_t seed)
      : initial_ms_(initial_ms), max_ms_(max_ms), rng_(seed) {}
  // The next delay: doubling from initial_ms up to max_ms, each drawn in [d/2, d].
  int NextMs() {
    int64_t d = std::min<int64_t>(max_ms_, static_cast<int64_t>(initial_ms_) << std::min(failures_, 20));
    failures_++;
    std::uniform_int_distribution<int64_t> pick(d / 2, d);
    return static_cast<int>(pick(rng_));
  }
  void Reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  int initial_ms_;
  int max_ms_;
  int failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace edge::amqp
