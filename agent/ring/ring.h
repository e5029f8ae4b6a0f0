// Ring: the thread-safe front of RingStore with group commit.
//
// Producers call Append (blocking) or AppendAsync from any thread. One writer thread takes
// everything queued, appends it as one batch with one write and one fdatasync, then answers
// every producer of that batch; while a sync is in flight the next batch keeps growing, up to
// RingOptions::max_batch_records / max_batch_bytes. The writer thread also writes the meta
// slot about once a second while acknowledgements advance, and sooner when they ran
// RingOptions::checkpoint_every_records ahead of it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/ring/ring_store.h"

namespace edge::ring {

class Ring {
 public:
  // Runs on the writer thread once the payload's batch is durable (the seq) or failed.
  // Must not block for long: it delays the next batch.
  using AppendCallback = std::function<void(Result<uint64_t>)>;

  static Result<std::unique_ptr<Ring>> Open(port::FileSystem* fs, const std::string& path,
                                            const RingOptions& options);
  // Finishes queued appends, writes a final checkpoint, stops the writer.
  ~Ring();

  void AppendAsync(std::string payload, AppendCallback done);
  Result<uint64_t> Append(std::string_view payload);

  // Blocks until next_seq() > seq (a record `seq` is durable), the timeout passes, or the ring
  // closes. Returns next_seq().
  uint64_t WaitForDurable(uint64_t seq, int timeout_ms);

  // RingStore::Acknowledge, and once the head is options.checkpoint_every_records past the
  // last checkpoint, asks the writer thread for one (it does not wait for it). Any thread.
  Status Acknowledge(const Position& next_unacked);

  // Reading goes straight to the store (thread-safe there).
  RingStore& store() { return *store_; }
  const RingStore& store() const { return *store_; }

  // Stops taking appends (they fail with shutting_down), drains the queue, checkpoints.
  Status Close();

  // Called on the writer thread after every batch with its size: for batch-size metrics and
  // for benchmarks that replay the same batches against the raw device. Set before appending.
  struct BatchInfo {
    size_t records = 0;
    uint64_t payload_bytes = 0;
    bool ok = false;
  };
  void SetBatchObserver(std::function<void(const BatchInfo&)> observer) {
    batch_observer_ = std::move(observer);
  }

 private:
  // A blocking Append's slot: filled by the writer under mu_, then all such appenders of a
  // batch are woken with one notify_all (one wake-up call per batch, not one per payload).
  struct Waiter {
    bool done = false;
    Result<uint64_t> result = Status::Internal("append pending");
  };
  struct Pending {
    std::string payload;
    AppendCallback done;       // for AppendAsync
    Waiter* waiter = nullptr;  // for Append
  };
  void Enqueue(Pending p);
  explicit Ring(std::unique_ptr<RingStore> store, const RingOptions& options);
  void WriterLoop();

  std::unique_ptr<RingStore> store_;
  RingOptions options_;

  std::mutex mu_;
  std::condition_variable work_cv_;     // writer waits for appends or close
  std::condition_variable durable_cv_;  // WaitForDurable and Append wait for finished batches
  // Guarded by mu_:
  std::deque<Pending> queue_;
  uint64_t queued_bytes_ = 0;
  bool closing_ = false;
  bool closed_ = false;
  bool checkpoint_requested_ = false;
  Status close_status_;

  // Head seq covered by the last checkpoint the writer wrote (read by Acknowledge).
  std::atomic<uint64_t> checkpointed_seq_{0};
  std::function<void(const BatchInfo&)> batch_observer_;  // set before use; writer thread reads
  std::thread writer_;
};

}  // namespace edge::ring
