#include "tests/powercut/powercut_workload.h"

#include <algorithm>

namespace edge::powercut {
namespace {

uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

Coverage& GlobalCoverage() {
  static Coverage coverage;
  return coverage;
}

std::string Coverage::ToString() const {
  return "appended=" + std::to_string(appended) + " too_large=" + std::to_string(too_large) +
         " ring_full=" + std::to_string(ring_full) + " dropped=" + std::to_string(dropped) +
         " wraps=" + std::to_string(wraps) + " acked=" + std::to_string(acked) +
         " failed_batches=" + std::to_string(failed_batches) +
         " torn_tails=" + std::to_string(torn_tails);
}

std::string WorkloadSpec::Describe() const {
  return family + " workload seed=" + std::to_string(seed) + " (" +
         std::to_string(options.file_bytes) + " bytes, segments of " +
         std::to_string(options.segment_bytes) + ", " +
         (drops_allowed() ? "drop_oldest" : "reject") + ", " + std::to_string(steps) + " steps)";
}

WorkloadSpec SmallSpec(uint64_t seed, int steps) {
  WorkloadSpec spec;
  spec.family = "small";
  spec.seed = seed;
  spec.steps = steps;
  spec.options.segment_bytes = 4096;
  spec.options.file_bytes = ring::kDataOffset + 8 * 4096;
  spec.options.full_policy =
      seed % 2 == 0 ? ring::FullPolicy::kDropOldest : ring::FullPolicy::kReject;
  return spec;
}

WorkloadSpec LargerSpec(uint64_t seed, int steps) {
  WorkloadSpec spec;
  spec.family = "larger";
  spec.seed = seed;
  spec.steps = steps;
  spec.options.segment_bytes = 16384;
  spec.options.file_bytes = seed % 3 == 0 ? (1u << 20) : ring::kDataOffset + 8 * 16384;
  spec.options.full_policy =
      seed % 2 == 0 ? ring::FullPolicy::kDropOldest : ring::FullPolicy::kReject;
  return spec;
}

WorkloadRun::WorkloadRun(const WorkloadSpec& spec, port::SimFileSystem* fs, Oracle* oracle,
                         Findings* findings, std::string context)
    : spec_(spec), fs_(fs), oracle_(oracle), findings_(findings), context_(std::move(context)) {}

WorkloadRun::~WorkloadRun() = default;

bool WorkloadRun::Open() {
  // An injected failure may hit the open (creation, the epoch's meta write): the operator's
  // answer is to start again, and so is ours.
  for (int attempt = 0; attempt < 3; attempt++) {
    oracle_->BeginBoot();
    auto opened = ring::RingStore::Open(fs_, kRingPath, spec_.options);
    if (opened.ok()) {
      store_ = std::move(opened).value();
      if (!store_->recovery().damage.empty()) {
        findings_->Add(&Findings::corrupt, context_,
                       "recovery reported damage: " + store_->recovery().Summary());
      }
      oracle_->NoteGaps(store_->PendingGaps());
      return true;
    }
    if (Crashed()) return false;
    if (attempt == 2) {
      findings_->Add(&Findings::corrupt, context_,
                     "RingStore::Open failed: " + opened.status().ToString());
    }
  }
  return false;
}

uint32_t WorkloadRun::PayloadSize(uint64_t r) const {
  const uint64_t max = store_->geometry().max_payload_bytes();
  uint64_t kind = r % 100;
  uint64_t v = r / 100;
  if (kind < 45) return static_cast<uint32_t>(v % 65);               // small, often 0
  if (kind < 80) return static_cast<uint32_t>(65 + v % 400);         // typical telemetry
  if (kind < 96) return static_cast<uint32_t>(465 + v % (max / 2));  // large
  return static_cast<uint32_t>(max - 32 + v % 96);                   // near or over the max
}

void WorkloadRun::Run(int n, uint64_t step_seed) {
  if (store_ == nullptr) return;
  rng_ = step_seed;
  for (int i = 0; i < n && !Crashed(); i++) {
    uint64_t r = SplitMix(&rng_);
    uint64_t kind = r % 100;
    if (kind < 55) {
      AppendStep(SplitMix(&rng_));
    } else if (kind < 80) {
      ConsumeStep(SplitMix(&rng_));
    } else if (kind < 92) {
      // May fail on a crash or an injected failure: both fine, the head just stays older.
      if (!store_->Checkpoint().ok() && !Crashed()) stats_.failed_checkpoints++;
    } else {
      std::vector<ring::Gap> gaps = store_->PendingGaps();
      if (!gaps.empty()) store_->MarkGapsReportedThrough(gaps[r / 100 % gaps.size()].last_seq);
    }
    oracle_->NoteGaps(store_->PendingGaps());
  }
}

void WorkloadRun::AppendStep(uint64_t r) {
  const uint64_t max = store_->geometry().max_payload_bytes();
  const int count = 1 + static_cast<int>(r % 8);
  uint64_t seq = store_->next_seq();
  std::vector<PayloadId> ids;
  std::vector<std::string> payloads;
  for (int i = 0; i < count; i++) {
    uint32_t size = PayloadSize(SplitMix(&rng_));
    // Predict the seq: consecutive from next_seq, skipping what is too large.
    PayloadId id = oracle_->Attempt(size > max ? 0 : seq, size);
    if (size <= max) seq++;
    ids.push_back(id);
    payloads.push_back(MakePayload(oracle_->seed(), id));
  }
  std::vector<std::string_view> views(payloads.begin(), payloads.end());
  std::vector<Result<uint64_t>> results;
  const port::SimFsCounters before = fs_->counters();
  const uint64_t dropped_before = store_->stats().dropped_total;
  Status s = store_->AppendBatch(views, &results);
  const port::SimFsCounters after = fs_->counters();
  const bool injected =
      after.failed_syncs > before.failed_syncs || after.failed_writes > before.failed_writes;

  if (results.size() != payloads.size()) {
    findings_->Add(&Findings::corrupt, context_, "AppendBatch returned the wrong result count");
    return;
  }
  int ok_results = 0;
  for (const auto& res : results) ok_results += res.ok();
  if (!s.ok()) {
    if (ok_results > 0) {
      findings_->Add(&Findings::acked_lost, context_,
                     "AppendBatch failed (" + s.ToString() + ") yet reported " +
                         std::to_string(ok_results) + " seqs durable");
    }
    if (!Crashed()) {
      stats_.failed_batches++;
      GlobalCoverage().failed_batches++;
    }
    return;
  }
  if (injected && ok_results > 0) {
    findings_->Add(&Findings::acked_lost, context_,
                   "AppendBatch reported seqs durable although a write or fdatasync of it "
                   "failed (retry-and-trust)");
  }
  Coverage& cov = GlobalCoverage();
  for (size_t i = 0; i < results.size(); i++) {
    if (!results[i].ok()) {
      Code c = results[i].status().code();
      cov.too_large += c == Code::kTooLarge;
      cov.ring_full += c == Code::kRingFull;
      bool too_large = payloads[i].size() > max;
      if ((too_large && c != Code::kTooLarge) || (!too_large && c != Code::kRingFull)) {
        findings_->Add(&Findings::corrupt, context_,
                       "payload of " + std::to_string(payloads[i].size()) + " bytes failed with " +
                           results[i].status().ToString());
      }
      if (c == Code::kRingFull && spec_.drops_allowed()) {
        findings_->Add(&Findings::corrupt, context_, "ring_full under drop_oldest");
      }
      continue;
    }
    uint64_t got = *results[i];
    cov.appended++;
    if (got <= oracle_->max_promised()) {
      findings_->Add(&Findings::reused_seq, context_,
                     "AppendBatch reported seq " + std::to_string(got) +
                         ", not above the highest promised seq " +
                         std::to_string(oracle_->max_promised()));
    }
    if (!oracle_->Reported(got, ids[i])) {
      findings_->Add(&Findings::reused_seq, context_,
                     "seq " + std::to_string(got) + " promised twice with different payloads");
    }
  }
  const ring::RingStats st = store_->stats();
  cov.dropped += st.dropped_total - std::min(st.dropped_total, dropped_before);
  // The tail (head + used bytes, around the ring) going down means the batch wrapped.
  const uint64_t data = st.geometry.data_bytes();
  const uint64_t tail = (st.head.offset - ring::kDataOffset + st.used_bytes) % data;
  if (tail < last_tail_offset_) cov.wraps++;
  last_tail_offset_ = tail;
}

void WorkloadRun::ConsumeStep(uint64_t r) {
  // The publisher: read up to `want` records from the head, confirm a prefix of them.
  const int want = 1 + static_cast<int>(r % 24);
  ring::Position pos = store_->head();
  std::vector<ring::Position> next;
  for (int i = 0; i < want && pos.seq < store_->next_seq(); i++) {
    ring::Record rec;
    // Mostly through the read-ahead kept across steps (as the publisher reads), sometimes not.
    Status s = store_->Read(pos, &rec, (r >> 24) % 4 == 0 ? nullptr : &read_buffer_);
    if (!s.ok()) {
      if (!Crashed()) {
        findings_->Add(
            &Findings::corrupt, context_,
            "Read of durable seq " + std::to_string(pos.seq) + " failed: " + s.ToString());
      }
      return;
    }
    if (rec.seq != pos.seq || !oracle_->Observed(rec.seq, rec.payload)) {
      findings_->Add(&Findings::corrupt, context_,
                     "Read of seq " + std::to_string(pos.seq) + " returned seq " +
                         std::to_string(rec.seq) + " with a payload of " +
                         std::to_string(rec.payload.size()) + " bytes nobody wrote for it");
      return;
    }
    next.push_back(rec.next);
    pos = rec.next;
  }
  if (next.empty()) return;
  // Confirm a prefix (sometimes all, sometimes none) of what was read.
  size_t acked = (r >> 8) % (next.size() + 1);
  if ((r >> 16) % 3 == 0) acked = next.size();
  if (acked == 0) return;
  const ring::Position& through = next[acked - 1];
  oracle_->Acknowledging(through.seq);
  GlobalCoverage().acked += acked;
  Status s = store_->Acknowledge(through);
  if (!s.ok() && !Crashed()) {
    findings_->Add(
        &Findings::corrupt, context_,
        "Acknowledge through seq " + std::to_string(through.seq) + " failed: " + s.ToString());
  }
}

void WorkloadRun::ProveStillWorking() {
  if (store_ == nullptr) {
    findings_->Add(&Findings::corrupt, context_, "the ring is not open");
    return;
  }
  ring::Position pos = store_->head();
  while (pos.seq < store_->next_seq()) {
    ring::Record rec;
    Status s = store_->Read(pos, &rec);
    if (!s.ok() || !oracle_->Observed(rec.seq, rec.payload)) {
      findings_->Add(&Findings::corrupt, context_,
                     "Read of seq " + std::to_string(pos.seq) +
                         " failed or returned a wrong "
                         "payload: " +
                         s.ToString());
      return;
    }
    pos = rec.next;
  }
  oracle_->Acknowledging(pos.seq);
  Status s = store_->Acknowledge(pos);
  if (s.ok()) s = store_->Checkpoint();
  if (!s.ok()) {
    findings_->Add(&Findings::corrupt, context_,
                   "acknowledging everything and checkpointing failed: " + s.ToString());
    return;
  }
  PayloadId id = oracle_->Attempt(store_->next_seq(), 17);
  std::string payload = MakePayload(oracle_->seed(), id);
  std::vector<std::string_view> views{payload};
  std::vector<Result<uint64_t>> results;
  s = store_->AppendBatch(views, &results);
  if (!s.ok() || !results[0].ok()) {
    findings_->Add(&Findings::corrupt, context_,
                   "the store stopped working: an append into an empty ring failed: " +
                       (s.ok() ? results[0].status() : s).ToString());
    return;
  }
  if (*results[0] <= oracle_->max_promised() || !oracle_->Reported(*results[0], id)) {
    findings_->Add(&Findings::reused_seq, context_,
                   "append got seq " + std::to_string(*results[0]) + ", already promised");
  }
}

}  // namespace edge::powercut
