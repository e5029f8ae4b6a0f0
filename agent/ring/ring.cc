#include "agent/ring/ring.h"

#include <chrono>
#include <future>

namespace edge::ring {

Result<std::unique_ptr<Ring>> Ring::Open(port::FileSystem* fs, const std::string& path,
                                         const RingOptions& options) {
  auto store = RingStore::Open(fs, path, options);
  if (!store.ok()) return store.status();
  std::unique_ptr<Ring> ring(new Ring(std::move(store).value(), options));
  ring->writer_ = std::thread([r = ring.get()] { r->WriterLoop(); });
  return ring;
}

Ring::Ring(std::unique_ptr<RingStore> store, const RingOptions& options)
    : store_(std::move(store)), options_(options), checkpointed_seq_(store_->head().seq) {
  if (options_.max_batch_bytes > store_->geometry().segment_bytes) {
    options_.max_batch_bytes = store_->geometry().segment_bytes;
  }
}

Ring::~Ring() { (void)Close(); }

void Ring::Enqueue(Pending p) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!closing_) {
      queued_bytes_ += p.payload.size();
      queue_.push_back(std::move(p));
      work_cv_.notify_one();
      return;
    }
  }
  Status refused = Status::ShuttingDown("ring " + store_->path() + " is closing; append refused");
  if (p.waiter != nullptr) {
    p.waiter->result = refused;
    p.waiter->done = true;
  } else {
    p.done(refused);
  }
}

void Ring::AppendAsync(std::string payload, AppendCallback done) {
  Enqueue(Pending{std::move(payload), std::move(done), nullptr});
}

Result<uint64_t> Ring::Append(std::string_view payload) {
  Waiter waiter;
  Enqueue(Pending{std::string(payload), nullptr, &waiter});
  std::unique_lock<std::mutex> l(mu_);
  durable_cv_.wait(l, [&] { return waiter.done; });
  return std::move(waiter.result);
}

Status Ring::Acknowledge(const Position& next_unacked) {
  Status s = store_->Acknowledge(next_unacked);
  if (!s.ok() || options_.checkpoint_every_records == 0) return s;
  if (next_unacked.seq >= checkpointed_seq_.load() + options_.checkpoint_every_records) {
    std::lock_guard<std::mutex> l(mu_);
    if (!checkpoint_requested_) {
      checkpoint_requested_ = true;
      work_cv_.notify_one();
    }
  }
  return s;
}

uint64_t Ring::WaitForDurable(uint64_t seq, int timeout_ms) {
  std::unique_lock<std::mutex> l(mu_);
  durable_cv_.wait_for(l, std::chrono::milliseconds(timeout_ms),
                       [&] { return closed_ || store_->next_seq() > seq; });
  return store_->next_seq();
}

void Ring::WriterLoop() {
  // The meta slot is written about this often while acknowledgements advance, when Acknowledge
  // asks for it, and always before a segment is reused (RingStore does that itself).
  const auto interval = std::chrono::milliseconds(options_.checkpoint_interval_ms);
  auto last_checkpoint = std::chrono::steady_clock::now();
  bool last_checkpoint_failed = false;
  std::vector<Pending> batch;
  std::vector<std::string_view> views;
  std::vector<Result<uint64_t>> results;
  for (;;) {
    bool requested = false;
    {
      std::unique_lock<std::mutex> l(mu_);
      // Wake for appends, for close, to checkpoint acknowledgements about once a second, or
      // when Acknowledge asks for a checkpoint.
      work_cv_.wait_for(l, interval,
                        [&] { return !queue_.empty() || closing_ || checkpoint_requested_; });
      if (queue_.empty() && closing_) break;
      // After a failed checkpoint, requests wait for the interval: a failing disk is not
      // hammered with one meta write per acknowledgement.
      requested = checkpoint_requested_ && !last_checkpoint_failed;
      checkpoint_requested_ = false;
      // Everything queued while the previous sync was in flight forms this batch.
      uint64_t bytes = 0;
      while (!queue_.empty() && batch.size() < options_.max_batch_records) {
        uint64_t n = queue_.front().payload.size();
        if (!batch.empty() && bytes + n > options_.max_batch_bytes) break;
        bytes += n;
        queued_bytes_ -= n;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (!batch.empty()) {
      views.clear();
      for (const Pending& p : batch) views.emplace_back(p.payload);
      Status batch_status = store_->AppendBatch(views, &results);  // outcomes are in results
      if (batch_observer_) {
        BatchInfo info;
        info.ok = batch_status.ok();
        for (size_t i = 0; i < batch.size(); i++) {
          if (!results[i].ok()) continue;
          info.records++;
          info.payload_bytes += batch[i].payload.size();
        }
        batch_observer_(info);
      }
      {
        std::lock_guard<std::mutex> l(mu_);
        for (size_t i = 0; i < batch.size(); i++) {
          if (batch[i].waiter == nullptr) continue;
          batch[i].waiter->result = std::move(results[i]);
          batch[i].waiter->done = true;
        }
        durable_cv_.notify_all();
      }
      for (size_t i = 0; i < batch.size(); i++) {
        if (batch[i].waiter == nullptr) batch[i].done(std::move(results[i]));
      }
      batch.clear();
    } else {
      // Woken with nothing to write (the interval passed, or a checkpoint request): the
      // producers are quiet, so the batch lists go back (ring_store.h ReleaseBatchLists).
      store_->ReleaseBatchLists();
    }
    auto now = std::chrono::steady_clock::now();
    if ((requested || now - last_checkpoint >= interval) &&
        store_->CheckpointPending()) {
      // A failed checkpoint is retried at the next interval; the durable head simply stays
      // older, which costs re-sends after a crash, never data.
      const uint64_t head = store_->head().seq;
      last_checkpoint_failed = !store_->Checkpoint().ok();
      if (!last_checkpoint_failed) checkpointed_seq_.store(head);
      last_checkpoint = now;
    }
  }
}

Status Ring::Close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return close_status_;
    closing_ = true;
    work_cv_.notify_all();
  }
  if (writer_.joinable()) writer_.join();
  Status s = store_->Checkpoint();
  std::lock_guard<std::mutex> l(mu_);
  closed_ = true;
  close_status_ = s;
  durable_cv_.notify_all();
  return s;
}

}  // namespace edge::ring
