// ConfirmWindow: the messages published on the current channel and not yet settled.
//
// Delivery tags restart at 1 on every channel; each entry maps its tag to the ring seq and to
// the ring Position after it, so when the oldest entries are settled the ring head can move to
// exactly there. Tags are handed out in seq order, so the oldest tag is the oldest seq.
//
// "Settled" means the broker acked it (confirmed; for a returned message the ack comes after
// the return and the payload is already in the dead-letter file), or the publisher dealt with
// a nack. The ring head only ever moves over a contiguous settled prefix: an ack for tag 7
// while tag 5 is unsettled moves nothing.
//
// Not thread-safe: owned by the publisher thread.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "agent/ring/ring_store.h"

namespace edge::publish {

class ConfirmWindow {
 public:
  struct Entry {
    uint64_t tag = 0;     // local entries repeat the previous tag, so tags never decrease
    bool local = false;   // settled here, never published (unknown route, damage)
    bool dropped = false; // left the ring under drop_oldest while waiting for a re-publish
    uint64_t seq = 0;
    ring::Position pos;   // where the record is (to read it again for the dead-letter file)
    ring::Position next;  // the ring position after this record
    int attempt = 1;      // how many times this seq was published by this process
    bool acked = false;
    bool nacked = false;
    bool damaged = false;          // a damaged ring range: nothing to send, already reported
    bool is_retry = false;         // a re-publish after a nack; settles the original too
    bool retry_scheduled = false;  // nacked, and a re-publish is queued
    bool retry_resolved = false;   // its re-publish settled
    std::string dl_reason;         // non-empty: goes to the dead-letter file before settling
    uint16_t dl_code = 0;
    std::string dl_text;
    bool dl_done = false;
  };

  // Starts a new channel: tags restart at 1, every entry is forgotten (they will be re-sent).
  void Reset();
  // Records a publish; returns its delivery tag.
  uint64_t Add(uint64_t seq, const ring::Position& pos, const ring::Position& next, int attempt);
  // Records a record settled without publishing (takes no delivery tag); returns it.
  Entry* AddLocal(uint64_t seq, const ring::Position& pos, const ring::Position& next);
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

  // Marks tag (or every tag <= tag when multiple) acked / nacked. Returns how many entries
  // changed. Unknown tags (already settled) are ignored.
  size_t MarkAcked(uint64_t tag, bool multiple);
  size_t MarkNacked(uint64_t tag, bool multiple);
  // The entry for seq, or nullptr (basic.return carries the message id, not the tag).
  Entry* FindBySeq(uint64_t seq);

  std::deque<Entry>& entries() { return entries_; }
  // The oldest entry, or nullptr.
  Entry* Oldest() { return entries_.empty() ? nullptr : &entries_.front(); }
  void PopOldest() { entries_.pop_front(); }

 private:
  std::deque<Entry> entries_;  // in tag (and seq) order
  uint64_t next_tag_ = 1;
};

}  // namespace edge::publish
