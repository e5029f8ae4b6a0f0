#include "agent/worker/recent_ids.h"

namespace edge::worker {

void RecentIds::Insert(const std::string& id) {
  auto it = index_.find(id);
  if (it != index_.end()) {
    order_.splice(order_.begin(), order_, it->second);
    return;
  }
  order_.push_front(id);
  index_[id] = order_.begin();
  if (order_.size() > capacity_) {
    index_.erase(order_.back());
    order_.pop_back();
  }
}

}  // namespace edge::worker
