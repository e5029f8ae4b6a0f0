// RecentIds: the message ids this worker completed most recently (an LRU set).
//
// Why: delivery is at-least-once. A handler that succeeded may see its message again when the
// ack was lost (connection dropped between exit 0 and basic.ack) or when a producer re-sent it;
// EDGE_DUPLICATE=1 tells the handler so it can skip or reconcile. Only this worker's memory:
// a duplicate handled by another worker, or after a restart, is not flagged (redelivered is the
// broker's hint for those).
//
// Thread-safety: none; the worker's thread owns it.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>

namespace edge::worker {

class RecentIds {
 public:
  explicit RecentIds(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

  bool Contains(const std::string& id) const { return index_.count(id) != 0; }
  // Records `id` as the most recent, evicting the oldest beyond capacity.
  void Insert(const std::string& id);
  size_t size() const { return index_.size(); }

 private:
  const size_t capacity_;
  std::list<std::string> order_;  // most recent first
  std::unordered_map<std::string, std::list<std::string>::iterator> index_;
};

}  // namespace edge::worker
