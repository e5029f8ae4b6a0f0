#include "tests/powercut/powercut_oracle.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace edge::powercut {
namespace {

uint64_t Mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr size_t kMaxProblems = 8;

}  // namespace

std::string MakePayload(uint64_t workload_seed, PayloadId id) {
  std::string p(id.size, '\0');
  uint64_t h = Mix(workload_seed ^ Mix(id.nonce) ^ (uint64_t{id.size} << 40));
  for (size_t i = 0; i < p.size(); i += 8) {
    h = Mix(h);
    std::memcpy(&p[i], &h, std::min<size_t>(8, p.size() - i));
  }
  return p;
}

void Findings::Add(uint64_t Findings::*counter, const std::string& context,
                   const std::string& what) {
  this->*counter += 1;
  if (problems.size() < kMaxProblems) problems.push_back(context + ": " + what);
}

void Findings::Merge(const Findings& other) {
  acked_lost += other.acked_lost;
  records_checked += other.records_checked;
  corrupt += other.corrupt;
  reused_seq += other.reused_seq;
  for (const std::string& p : other.problems) {
    if (problems.size() < kMaxProblems) problems.push_back(p);
  }
}

Oracle::Entry* Oracle::EntryFor(uint64_t seq) {
  if (entries_.size() <= seq) entries_.resize(seq + 1);
  return &entries_[seq];
}

const Oracle::Entry* Oracle::FindEntry(uint64_t seq) const {
  return seq < entries_.size() ? &entries_[seq] : nullptr;
}

PayloadId Oracle::Attempt(uint64_t seq, uint32_t size) {
  PayloadId id{next_nonce_++, size, boot_};
  EntryFor(seq)->attempts.push_back(id);
  return id;
}

bool Oracle::Reported(uint64_t seq, PayloadId id) {
  Entry* e = EntryFor(seq);
  int index = -1;
  for (size_t i = 0; i < e->attempts.size(); i++) {
    if (e->attempts[i].nonce == id.nonce) index = static_cast<int>(i);
  }
  if (index < 0) {  // the store gave another seq than predicted: fine, remember it here
    e->attempts.push_back(id);
    index = static_cast<int>(e->attempts.size() - 1);
  }
  if (e->promised >= 0 && e->attempts[e->promised].nonce != id.nonce) return false;
  e->promised = index;
  max_promised_ = std::max(max_promised_, seq);
  return true;
}

bool Oracle::Observed(uint64_t seq, const std::string& payload) {
  Entry* e = EntryFor(seq);
  if (e->promised >= 0) {
    return MakePayload(seed_, e->attempts[e->promised]) == payload;
  }
  for (size_t i = 0; i < e->attempts.size(); i++) {
    if (e->attempts[i].size == payload.size() && MakePayload(seed_, e->attempts[i]) == payload) {
      e->promised = static_cast<int>(i);
      max_promised_ = std::max(max_promised_, seq);
      return true;
    }
  }
  return false;
}

void Oracle::Acknowledging(uint64_t next_unacked) {
  acked_below_ = std::max(acked_below_, next_unacked);
}

void Oracle::NoteGaps(const std::vector<ring::Gap>& gaps) {
  for (const ring::Gap& g : gaps) {
    bool known = false;
    for (const ring::Gap& d : dropped_) {
      known = known || (d.first_seq <= g.first_seq && g.last_seq <= d.last_seq);
    }
    if (!known) dropped_.push_back(g);
  }
}

bool Oracle::promised(uint64_t seq) const {
  const Entry* e = FindEntry(seq);
  return e != nullptr && e->promised >= 0;
}

bool Oracle::Dropped(uint64_t seq) const {
  for (const ring::Gap& g : dropped_) {
    if (g.first_seq <= seq && seq <= g.last_seq) return true;
  }
  return false;
}

Oracle::Match Oracle::Classify(uint64_t seq, const std::string& payload, uint32_t* boot) const {
  const Entry* e = FindEntry(seq);
  if (e == nullptr) return Match::kWrong;
  if (e->promised >= 0) {
    const PayloadId& id = e->attempts[e->promised];
    if (boot != nullptr) *boot = id.boot;
    return MakePayload(seed_, id) == payload ? Match::kPromised : Match::kWrong;
  }
  for (const PayloadId& id : e->attempts) {
    if (id.size == payload.size() && MakePayload(seed_, id) == payload) {
      if (boot != nullptr) *boot = id.boot;
      return Match::kAttempt;
    }
  }
  return Match::kWrong;
}

namespace {

bool InGaps(const std::vector<ring::Gap>& gaps, uint64_t seq) {
  for (const ring::Gap& g : gaps) {
    if (g.first_seq <= seq && seq <= g.last_seq) return true;
  }
  return false;
}

// Reads every record from the head, following Record::next. Calls visit(seq, payload) for each;
// returns false (after noting it) when a read fails.
template <typename Visit>
bool WalkRing(ring::RingStore* store, const std::string& context, Findings* findings, Visit visit) {
  ring::Position pos = store->head();
  const uint64_t end = store->next_seq();
  uint64_t expected = pos.seq;
  while (pos.seq < end) {
    ring::Record rec;
    Status s = store->Read(pos, &rec);
    if (!s.ok()) {
      findings->Add(&Findings::corrupt, context,
                    "Read of seq " + std::to_string(pos.seq) + " failed: " + s.ToString());
      return false;
    }
    if (rec.seq != expected) {
      findings->Add(&Findings::corrupt, context,
                    "Read returned seq " + std::to_string(rec.seq) + " where seq " +
                        std::to_string(expected) + " was expected (out of order)");
      return false;
    }
    visit(rec.seq, rec.payload);
    expected++;
    pos = rec.next;
  }
  return true;
}

}  // namespace

void Oracle::CheckRecovered(ring::RingStore* store, bool drops_allowed, const std::string& context,
                            Findings* findings) const {
  const ring::RecoveryReport& report = store->recovery();
  if (!report.damage.empty()) {
    findings->Add(
        &Findings::corrupt, context,
        "recovery reported damage after a power cut (none was injected): " + report.Summary());
  }

  // Gaps recovery reports now that were not known before the crash can only be the crashed
  // batch's drop_oldest, which drops the oldest unacknowledged records: a prefix of them.
  std::vector<ring::Gap> gaps_now = store->PendingGaps();
  if (!drops_allowed && (!gaps_now.empty() || !dropped_.empty())) {
    findings->Add(&Findings::acked_lost, context,
                  "the ring reports dropped records under the `reject` policy");
  }
  std::vector<uint64_t> required;
  bool past_prefix = false;
  for (uint64_t seq = acked_below_; seq <= max_promised_; seq++) {
    if (!promised(seq) || Dropped(seq)) continue;
    if (InGaps(gaps_now, seq)) {
      if (past_prefix) {
        findings->Add(&Findings::acked_lost, context,
                      "recovery reports seq " + std::to_string(seq) +
                          " dropped, but older records were kept: not a drop_oldest gap");
      }
      continue;
    }
    past_prefix = true;
    required.push_back(seq);
  }

  std::vector<bool> seen(max_promised_ + 1, false);
  uint32_t latest_boot = 0;
  WalkRing(store, context, findings, [&](uint64_t seq, const std::string& payload) {
    uint32_t boot = 0;
    Match match = Classify(seq, payload, &boot);
    if (match != Match::kWrong && boot < latest_boot) {
      findings->Add(&Findings::corrupt, context,
                    "seq " + std::to_string(seq) + " is a leftover of boot " +
                        std::to_string(boot) + " found after a record of boot " +
                        std::to_string(latest_boot) + " (stale bytes of a crashed boot)");
    }
    latest_boot = std::max(latest_boot, boot);
    if (match == Match::kWrong) {
      findings->Add(&Findings::corrupt, context,
                    "seq " + std::to_string(seq) + " came back with a payload of " +
                        std::to_string(payload.size()) +
                        " bytes that no append gave for it (corrupt or phantom record)");
    }
    if (seq <= max_promised_) seen[seq] = true;
  });
  findings->records_checked += required.size();
  for (uint64_t seq : required) {
    if (!seen[seq]) {
      findings->Add(&Findings::acked_lost, context,
                    "seq " + std::to_string(seq) +
                        " was reported durable, not acknowledged, "
                        "not dropped, and is missing after recovery (head " +
                        std::to_string(store->head().seq) + ", next_seq " +
                        std::to_string(store->next_seq()) + ")");
    }
  }
  if (store->next_seq() <= max_promised_) {
    findings->Add(&Findings::reused_seq, context,
                  "next_seq " + std::to_string(store->next_seq()) +
                      " after recovery is not above promised seq " + std::to_string(max_promised_));
  }

  // Life goes on: new appends get new seqs, and nothing promised changes under them.
  std::map<uint64_t, std::string> fresh;
  const uint64_t max_payload = store->geometry().max_payload_bytes();
  for (int batch = 0; batch < 2; batch++) {
    std::vector<std::string> payloads;
    for (int i = 0; i < 3; i++) {
      PayloadId id{0x80000000u + static_cast<uint32_t>(batch * 8 + i),
                   static_cast<uint32_t>(std::min<uint64_t>(max_payload, 40 + 97 * i))};
      payloads.push_back(MakePayload(seed_, id));
    }
    std::vector<std::string_view> views(payloads.begin(), payloads.end());
    std::vector<Result<uint64_t>> results;
    Status s = store->AppendBatch(views, &results);
    if (!s.ok()) {
      findings->Add(&Findings::corrupt, context, "append after recovery failed: " + s.ToString());
      return;
    }
    for (size_t i = 0; i < results.size(); i++) {
      if (!results[i].ok()) continue;  // ring_full under `reject` is fine
      uint64_t seq = *results[i];
      if (seq <= max_promised_) {
        findings->Add(&Findings::reused_seq, context,
                      "append after recovery got seq " + std::to_string(seq) +
                          ", already promised before the crash");
      }
      fresh[seq] = payloads[i];
    }
  }
  WalkRing(store, context + " (after new appends)", findings,
           [&](uint64_t seq, const std::string& payload) {
             auto it = fresh.find(seq);
             bool ok = it != fresh.end() ? it->second == payload
                                         : Classify(seq, payload) != Match::kWrong;
             if (!ok) {
               findings->Add(&Findings::reused_seq, context,
                             "after new appends seq " + std::to_string(seq) +
                                 " reads back with a different payload");
             }
           });
}

}  // namespace edge::powercut
