// The oracle of the power-cut test: what the ring promised before the crash, and the check of a
// recovered ring against those promises.
//
// A promise is made when AppendBatch reports a seq durable, or when Read returns a record (the
// store promises both only for durable records). A promised record must be recovered intact
// unless it was acknowledged (seq < acked_below) or reported dropped (a gap). Every record
// recovered must carry a payload that an AppendBatch call was given for that seq: the promised
// one when there is one, else one of the attempts of a batch that never reported (a crashed or
// failed batch can leave whole records behind). Seqs once promised never come back with another
// payload, and the next seq after recovery is above all of them. Along the ring, records never
// go back to an earlier boot's attempts: a later boot's record followed by an earlier boot's is
// a stale leftover of a crashed boot taken for data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/ring/ring_store.h"

namespace edge::powercut {

// Identifies a payload: its bytes are a pure function of (workload seed, nonce, size), so the
// oracle stores 8 bytes per payload instead of the payload.
struct PayloadId {
  uint32_t nonce = 0;
  uint32_t size = 0;
  uint32_t boot = 0;  // the oracle's boot count when it was attempted (not part of the bytes)
};

std::string MakePayload(uint64_t workload_seed, PayloadId id);

// Violations found; the test fails unless all stay zero.
struct Findings {
  uint64_t acked_lost = 0;  // a promised record missing after recovery (or wrongly dropped)
  uint64_t corrupt = 0;     // a record with a payload nobody wrote, damage, a failed read or open
  uint64_t reused_seq = 0;  // a promised seq with another payload, or next_seq not above it
  uint64_t records_checked = 0;  // promised records looked for after recovery, over all images
  std::vector<std::string> problems;  // the first few, with what is needed to replay them

  bool clean() const { return acked_lost == 0 && corrupt == 0 && reused_seq == 0; }
  void Add(uint64_t Findings::*counter, const std::string& context, const std::string& what);
  void Merge(const Findings& other);
};

class Oracle {
 public:
  explicit Oracle(uint64_t workload_seed) : seed_(workload_seed) {}

  uint64_t seed() const { return seed_; }

  // A new boot (RingStore::Open) begins: later attempts belong to it.
  void BeginBoot() { boot_++; }

  // A payload of `size` about to be given to AppendBatch, expected to get `seq`.
  PayloadId Attempt(uint64_t seq, uint32_t size);
  // AppendBatch reported seq durable for payload id (an attempt made under any seq).
  // False when seq was already promised with another payload.
  bool Reported(uint64_t seq, PayloadId id);
  // Read returned this record during the run. Returns false when its payload matches nothing
  // written for that seq (then nothing is recorded).
  bool Observed(uint64_t seq, const std::string& payload);
  // Everything below next_unacked may now be acknowledged (recorded before the call: once the
  // store has it, a checkpoint may make it durable at any time).
  void Acknowledging(uint64_t next_unacked);
  // Gaps the store reports; the union over time is exempt from the durability check.
  void NoteGaps(const std::vector<ring::Gap>& gaps);

  uint64_t max_promised() const { return max_promised_; }
  uint64_t acked_below() const { return acked_below_; }
  bool promised(uint64_t seq) const;

  enum class Match { kPromised, kAttempt, kWrong };
  // *boot (when given) gets the boot of the attempt the payload matched.
  Match Classify(uint64_t seq, const std::string& payload, uint32_t* boot = nullptr) const;

  // Checks an already recovered store against the promises, then appends a little more and
  // checks again. drops_allowed: the ring runs under drop_oldest. context names the image for
  // replay.
  void CheckRecovered(ring::RingStore* store, bool drops_allowed, const std::string& context,
                      Findings* findings) const;

 private:
  struct Entry {
    int promised = -1;  // index into attempts of the promised payload, or -1
    std::vector<PayloadId> attempts;
  };
  Entry* EntryFor(uint64_t seq);
  const Entry* FindEntry(uint64_t seq) const;
  bool Dropped(uint64_t seq) const;

  uint64_t seed_;
  uint32_t next_nonce_ = 1;
  uint32_t boot_ = 0;
  std::vector<Entry> entries_;  // indexed by seq
  uint64_t max_promised_ = 0;
  uint64_t acked_below_ = 0;
  std::vector<ring::Gap> dropped_;
};

}  // namespace edge::powercut
