#include "agent/intake/confirm_tracker.h"

namespace edge::intake {

bool ConfirmTracker::Settle(uint64_t seq, bool delivered, const std::string& detail) {
  std::lock_guard<std::mutex> l(mu_);
  if (seq < settled_below_) return false;
  if (seq > settled_below_) {
    RememberLocked(settled_below_, seq - 1,
                   "the record left the ring without a broker confirm (dropped when the ring was "
                   "full under drop_oldest, or lost to ring damage)");
  }
  if (!delivered) RememberLocked(seq, seq, detail);
  settled_below_ = seq + 1;
  return lowest_waiter_ <= seq;
}

void ConfirmTracker::SetLowestWaiter(uint64_t seq) {
  std::lock_guard<std::mutex> l(mu_);
  lowest_waiter_ = seq;
}

ConfirmTracker::Outcome ConfirmTracker::Lookup(uint64_t seq, std::string* detail) const {
  std::lock_guard<std::mutex> l(mu_);
  if (seq >= settled_below_) return Outcome::kPending;
  auto it = not_delivered_.upper_bound(seq);
  if (it != not_delivered_.begin()) {
    --it;
    if (seq <= it->second.last) {
      *detail = it->second.detail;
      return Outcome::kNotDelivered;
    }
  }
  return Outcome::kDelivered;
}

uint64_t ConfirmTracker::settled_below() const {
  std::lock_guard<std::mutex> l(mu_);
  return settled_below_;
}

void ConfirmTracker::RememberLocked(uint64_t first, uint64_t last, const std::string& detail) {
  not_delivered_[first] = Range{last, detail};
  while (not_delivered_.size() > kMaxRememberedRanges) not_delivered_.erase(not_delivered_.begin());
}

}  // namespace edge::intake
