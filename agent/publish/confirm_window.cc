#include "agent/publish/confirm_window.h"

namespace edge::publish {

void ConfirmWindow::Reset() {
  entries_.clear();
  next_tag_ = 1;
}

uint64_t ConfirmWindow::Add(uint64_t seq, const ring::Position& pos, const ring::Position& next,
                            int attempt) {
  Entry e;
  e.tag = next_tag_++;
  e.seq = seq;
  e.pos = pos;
  e.next = next;
  e.attempt = attempt;
  entries_.push_back(e);
  return e.tag;
}

ConfirmWindow::Entry* ConfirmWindow::AddLocal(uint64_t seq, const ring::Position& pos,
                                              const ring::Position& next) {
  Entry e;
  e.seq = seq;
  e.pos = pos;
  e.next = next;
  e.attempt = 0;
  entries_.push_back(e);
  return &entries_.back();
}

size_t ConfirmWindow::MarkAcked(uint64_t tag, bool multiple) {
  size_t n = 0;
  for (Entry& e : entries_) {
    if (e.tag == 0) continue;  // local entries have no tag
    if (e.tag > tag) break;
    if ((multiple || e.tag == tag) && !e.acked && !e.nacked) {
      e.acked = true;
      n++;
    }
  }
  return n;
}

size_t ConfirmWindow::MarkNacked(uint64_t tag, bool multiple) {
  size_t n = 0;
  for (Entry& e : entries_) {
    if (e.tag == 0) continue;
    if (e.tag > tag) break;
    if ((multiple || e.tag == tag) && !e.acked && !e.nacked) {
      e.nacked = true;
      n++;
    }
  }
  return n;
}

ConfirmWindow::Entry* ConfirmWindow::FindBySeq(uint64_t seq) {
  if (entries_.empty() || seq < entries_.front().seq) return nullptr;
  // Entries are in seq order but may skip seqs (a nacked one re-sent later), so search.
  for (Entry& e : entries_) {
    if (e.seq == seq) return &e;
    if (e.seq > seq) break;
  }
  return nullptr;
}

}  // namespace edge::publish
