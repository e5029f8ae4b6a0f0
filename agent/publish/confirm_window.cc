#include "agent/publish/confirm_window.h"

#include <algorithm>

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
  e.tag = next_tag_ - 1;  // keeps tags non-decreasing for the binary search below
  e.local = true;
  e.seq = seq;
  e.pos = pos;
  e.next = next;
  e.attempt = 0;
  entries_.push_back(e);
  return &entries_.back();
}

namespace {

// Marks one entry (or every entry up to tag when multiple). Tags are non-decreasing in the
// window, so a single ack finds its entry by binary search instead of a scan per ack.
template <typename Mark>
size_t MarkUpTo(std::deque<ConfirmWindow::Entry>& entries, uint64_t tag, bool multiple,
                Mark mark) {
  size_t n = 0;
  auto settle = [&](ConfirmWindow::Entry& e) {
    if (e.local || e.acked || e.nacked) return;
    mark(e);
    n++;
  };
  if (multiple) {
    for (auto& e : entries) {
      if (e.tag > tag) break;
      settle(e);
    }
    return n;
  }
  auto it = std::lower_bound(entries.begin(), entries.end(), tag,
                             [](const ConfirmWindow::Entry& e, uint64_t t) { return e.tag < t; });
  for (; it != entries.end() && it->tag == tag; ++it) settle(*it);
  return n;
}

}  // namespace

size_t ConfirmWindow::MarkAcked(uint64_t tag, bool multiple) {
  return MarkUpTo(entries_, tag, multiple, [](Entry& e) { e.acked = true; });
}

size_t ConfirmWindow::MarkNacked(uint64_t tag, bool multiple) {
  return MarkUpTo(entries_, tag, multiple, [](Entry& e) { e.nacked = true; });
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
