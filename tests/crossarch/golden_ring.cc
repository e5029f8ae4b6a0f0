#include "tests/crossarch/golden_ring.h"

#include <memory>
#include <string_view>
#include <utility>

#include "port/sim_fs.h"

namespace edge::crossarch {
namespace {

// Records appended per boot; boot 3's last batch comes after its final checkpoint.
constexpr uint64_t kBoot1Records = 30;
constexpr uint64_t kBoot2Records = 60;
constexpr uint64_t kBoot3Records = 12;
constexpr uint64_t kBoot3TailRecords = 4;

std::string Seq(uint64_t v) { return std::to_string(v); }

// Appends count records starting at the ring's next seq, in batches of 1..7.
Status AppendRecords(ring::RingStore* store, uint64_t count, uint64_t* batch_counter) {
  uint64_t max_payload = store->geometry().max_payload_bytes();
  uint64_t done = 0;
  while (done < count) {
    uint64_t batch = 1 + (*batch_counter * 5) % 7;
    (*batch_counter)++;
    if (batch > count - done) batch = count - done;
    uint64_t first = store->next_seq();
    std::vector<std::string> payloads;
    for (uint64_t i = 0; i < batch; i++) payloads.push_back(GoldenPayload(first + i, max_payload));
    std::vector<std::string_view> views(payloads.begin(), payloads.end());
    std::vector<Result<uint64_t>> results;
    EDGE_RETURN_IF_ERROR(store->AppendBatch(views, &results));
    for (uint64_t i = 0; i < batch; i++) {
      if (!results[i].ok()) return results[i].status().WithContext("golden append");
      if (*results[i] != first + i) {
        return Status::Internal("golden append: expected seq " + Seq(first + i) + ", got " +
                                Seq(*results[i]));
      }
    }
    done += batch;
  }
  return Status::Ok();
}

// Acknowledges every record below seq `through`, reading forward from the head as the
// publisher does, then checkpoints.
Status AcknowledgeBelow(ring::RingStore* store, uint64_t through) {
  ring::Position pos = store->head();
  while (pos.seq < through) {
    ring::Record rec;
    EDGE_RETURN_IF_ERROR(store->Read(pos, &rec));
    pos = rec.next;
  }
  EDGE_RETURN_IF_ERROR(store->Acknowledge(pos));
  return store->Checkpoint();
}

Result<std::unique_ptr<ring::RingStore>> OpenBoot(port::FileSystem* fs, const std::string& path) {
  return ring::RingStore::Open(fs, path, GoldenRingOptions());
}

RingState StateOf(const ring::RingStore& store) {
  ring::RingStats s = store.stats();
  RingState st;
  st.geometry = s.geometry;
  st.epoch = s.epoch;
  st.head_seq = s.head.seq;
  st.next_seq = s.next_seq;
  st.dropped_total = s.dropped_total;
  st.damaged_total = s.damaged_total;
  st.gaps = store.PendingGaps();
  return st;
}

Result<std::string> ReadWhole(port::FileSystem* fs, const std::string& path) {
  auto file = fs->Open(path, port::Access::kReadOnly);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  std::string bytes(static_cast<size_t>(*size), '\0');
  EDGE_RETURN_IF_ERROR((*file)->ReadAt(0, bytes.data(), bytes.size()));
  return bytes;
}

}  // namespace

std::string RingState::Describe() const {
  std::string s = "file_bytes=" + Seq(geometry.file_bytes) +
                  " segment_bytes=" + Seq(geometry.segment_bytes) +
                  " segments=" + Seq(geometry.segment_count) + " epoch=" + Seq(epoch) +
                  " head_seq=" + Seq(head_seq) + " next_seq=" + Seq(next_seq) +
                  " dropped=" + Seq(dropped_total) + " damaged=" + Seq(damaged_total) + " gaps=";
  if (gaps.empty()) s += "none";
  for (size_t i = 0; i < gaps.size(); i++) {
    s += (i == 0 ? "" : ",") + Seq(gaps[i].first_seq) + ".." + Seq(gaps[i].last_seq);
  }
  return s;
}

std::string GoldenPayload(uint64_t seq, uint64_t max_payload_bytes) {
  size_t size;
  if (seq % 13 == 0) {
    size = 0;
  } else if (seq % 29 == 0) {
    size = static_cast<size_t>(max_payload_bytes);  // fills a segment on its own
  } else {
    size = static_cast<size_t>((seq * 389) % 1500 + 1);
  }
  std::string p(size, '\0');
  for (size_t i = 0; i < size; i++) {
    p[i] = static_cast<char>((seq * 131 + i * 7 + (i >> 8)) & 0xff);
  }
  return p;
}

ring::RingOptions GoldenRingOptions() {
  ring::RingOptions o;
  o.file_bytes = ring::kDataOffset + 8 * 4096;
  o.segment_bytes = 4096;
  o.full_policy = ring::FullPolicy::kDropOldest;
  return o;
}

Status WriteGoldenRing(port::FileSystem* fs, const std::string& path) {
  if (fs->Exists(path)) return Status::AlreadyExists("golden ring " + path + ": already exists");
  uint64_t batches = 0;
  {  // Boot 1: create, append, acknowledge the first ten.
    auto store = OpenBoot(fs, path);
    if (!store.ok()) return store.status();
    EDGE_RETURN_IF_ERROR(AppendRecords(store->get(), kBoot1Records, &batches));
    EDGE_RETURN_IF_ERROR(AcknowledgeBelow(store->get(), 11));
  }
  {  // Boot 2: more than the ring holds; drop_oldest drops unacknowledged segments.
    auto store = OpenBoot(fs, path);
    if (!store.ok()) return store.status();
    EDGE_RETURN_IF_ERROR(AppendRecords(store->get(), kBoot2Records, &batches));
    EDGE_RETURN_IF_ERROR(AcknowledgeBelow(store->get(), (*store)->head().seq + 5));
  }
  {  // Boot 3: a checkpointed stretch, then a last batch only the record scan can find.
    auto store = OpenBoot(fs, path);
    if (!store.ok()) return store.status();
    EDGE_RETURN_IF_ERROR(AppendRecords(store->get(), kBoot3Records, &batches));
    EDGE_RETURN_IF_ERROR(AcknowledgeBelow(store->get(), (*store)->head().seq + 3));
    EDGE_RETURN_IF_ERROR(AppendRecords(store->get(), kBoot3TailRecords, &batches));
  }
  return Status::Ok();
}

Status ReadAndCheckRing(port::FileSystem* fs, const std::string& path, RingState* state) {
  auto opened = ring::RingStore::OpenReadOnly(fs, path);
  if (!opened.ok()) return opened.status();
  const ring::RingStore& store = **opened;
  if (!store.recovery().damage.empty()) {
    return Status::Corruption("ring " + path + ": recovery found damage: " +
                              store.recovery().Summary());
  }
  uint64_t max_payload = store.geometry().max_payload_bytes();
  ring::Position pos = store.head();
  while (pos.seq < store.next_seq()) {
    ring::Record rec;
    Status s = store.Read(pos, &rec);
    if (!s.ok()) return s.WithContext("ring " + path + ": record " + Seq(pos.seq));
    if (rec.seq != pos.seq) {
      return Status::Corruption("ring " + path + ": asked for seq " + Seq(pos.seq) + ", got " +
                                Seq(rec.seq));
    }
    if (rec.payload != GoldenPayload(rec.seq, max_payload)) {
      return Status::Corruption("ring " + path + ": record " + Seq(rec.seq) + " holds " +
                                Seq(rec.payload.size()) + " bytes that differ from the " +
                                "workload's payload");
    }
    pos = rec.next;
  }
  *state = StateOf(store);
  return Status::Ok();
}

Status VerifyGoldenImage(port::FileSystem* fs, const std::string& path, RingState* state) {
  EDGE_RETURN_IF_ERROR(ReadAndCheckRing(fs, path, state));

  port::SimFileSystem replay_fs(1);
  const std::string replay_path = "/golden/ring";
  EDGE_RETURN_IF_ERROR(WriteGoldenRing(&replay_fs, replay_path).WithContext("replay"));
  RingState expected;
  EDGE_RETURN_IF_ERROR(ReadAndCheckRing(&replay_fs, replay_path, &expected).WithContext("replay"));
  bool same_state =
      state->geometry.file_bytes == expected.geometry.file_bytes &&
      state->geometry.segment_bytes == expected.geometry.segment_bytes &&
      state->geometry.segment_count == expected.geometry.segment_count &&
      state->epoch == expected.epoch && state->head_seq == expected.head_seq &&
      state->next_seq == expected.next_seq && state->dropped_total == expected.dropped_total &&
      state->damaged_total == expected.damaged_total && state->gaps.size() == expected.gaps.size();
  for (size_t i = 0; same_state && i < state->gaps.size(); i++) {
    same_state = state->gaps[i].first_seq == expected.gaps[i].first_seq &&
                 state->gaps[i].last_seq == expected.gaps[i].last_seq;
  }
  if (!same_state) {
    return Status::Corruption("ring " + path + " reads as {" + state->Describe() +
                              "} but the workload replayed here gives {" + expected.Describe() +
                              "}");
  }

  auto image = ReadWhole(fs, path);
  if (!image.ok()) return image.status();
  auto replay = ReadWhole(&replay_fs, replay_path);
  if (!replay.ok()) return replay.status();
  if (image->size() != replay->size()) {
    return Status::Corruption("ring " + path + ": " + Seq(image->size()) + " bytes, replay " +
                              Seq(replay->size()));
  }
  for (size_t off = ring::kMetaSlotOffset; off < image->size(); off++) {
    if ((*image)[off] != (*replay)[off]) {
      return Status::Corruption("ring " + path + ": byte at offset " + Seq(off) +
                                " differs from the workload replayed on this architecture");
    }
  }
  return Status::Ok();
}

}  // namespace edge::crossarch
