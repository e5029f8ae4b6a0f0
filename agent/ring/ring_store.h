// RingStore: the on-disk ring of records (format in agent/ring/format.h).
//
// What it promises:
// - A record is durable (written and fdatasync'ed) before AppendBatch reports its seq, and
//   before Read will return it. A power cut at any later instant loses no such record.
// - Seqs start at 1, increase by one per record, and a seq once reported is never given to
//   another payload, across crashes and restarts.
// - Space is reused only after the acknowledged head that frees it is durable in a meta slot.
// - Recovery never silently skips: a torn tail is cut; damage inside durable data is reported
//   (RecoveryReport::damage) with its seq range, and the ring still opens.
//
// Threading: one writer thread calls AppendBatch and Checkpoint. Read, Acknowledge, head,
// next_seq, PendingGaps, MarkGapsReportedThrough and stats may be called from any thread at
// any time.
// Reads of durable records run without the lock: those bytes are immutable until acknowledged.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "agent/ring/format.h"
#include "port/file.h"
#include "port/status.h"

namespace edge::ring {

enum class FullPolicy {
  kReject,      // appends fail with ring_full: back-pressure to producers (jobs)
  kDropOldest,  // the oldest segment is dropped, counted and reported as a gap (telemetry)
};

struct RingOptions {
  uint64_t file_bytes = 64ull << 20;
  uint64_t segment_bytes = 0;  // 0: chosen by ChooseGeometry
  FullPolicy full_policy = FullPolicy::kReject;
  // Caps on one write batch (the bytes also cap at one segment).
  uint32_t max_batch_records = 4096;
  uint64_t max_batch_bytes = 1ull << 20;
  // Used by Ring (not RingStore): besides about once a second, the meta slot is written as soon
  // as the acknowledged head is this many records past the last checkpoint (0: by time only).
  // After a crash the publisher sends again everything from the durable head, so this bounds
  // the re-sent records that the broker had confirmed already. A daemon whose life is shorter
  // than the time interval (a crash loop) would otherwise never move its durable head.
  uint64_t checkpoint_every_records = 0;
  // Used by Ring: the meta slot is written about this often while acknowledgements advance.
  uint32_t checkpoint_interval_ms = 1000;
};

// A place in the ring: the record `seq` is at `offset`, or will be written there.
// A Position from Record::next may point just past the previous record: the record itself may
// sit after batch padding or at the next segment start, which the store resolves. epoch_floor is
// the previous record's epoch: a candidate from an older epoch is a crashed boot's leftover.
struct Position {
  uint64_t seq = 0;
  uint64_t offset = 0;
  uint32_t epoch_floor = 0;
};

struct Record {
  uint64_t seq = 0;
  uint32_t epoch = 0;
  std::string payload;
  Position next;  // where the following record is; pass it to Acknowledge
};

// A stretch of durable records that recovery found damaged (and so lost).
struct Damage {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t offset = 0;  // where the first damaged record should have been
  Position resume;      // the first good record after the damage (seq == last_seq + 1)
  std::string what;
};

struct RecoveryReport {
  bool created = false;  // the file did not exist and was made
  int meta_slot = -1;    // the meta slot recovery started from
  uint32_t epoch = 0;    // the boot epoch now in force
  Position head;         // oldest unacknowledged record
  uint64_t next_seq = 1;
  uint64_t records = 0;  // records in [head, tail)
  bool torn_tail = false;
  uint64_t torn_tail_offset = 0;
  std::vector<Damage> damage;
  // Both meta slots failed their checks (bit rot in two blocks): the head was rebuilt from the
  // oldest record still on disk, so records acknowledged before may be sent again (never lost),
  // and the persisted drop/damage counters and gap list restarted from zero.
  bool meta_rebuilt = false;
  std::string Summary() const;  // one line for the log
};

struct RingStats {
  Geometry geometry;
  Position head;
  uint64_t next_seq = 0;
  uint64_t used_bytes = 0;        // bytes between head and tail
  uint64_t appended_records = 0;  // this boot
  uint64_t appended_payload_bytes = 0;
  uint64_t written_bytes = 0;  // bytes given to WriteAt, records and meta
  uint64_t batches = 0;
  uint64_t syncs = 0;
  uint64_t meta_writes = 0;
  uint64_t rejected_full = 0;
  uint64_t dropped_total = 0;  // persisted across boots
  // Persisted across boots. A damaged seq counts once, from the recovery that found it, however
  // often the agent restarts before the head passes it; if drop_oldest then drops it, it is in
  // the gap report but not counted again in dropped_total.
  uint64_t damaged_total = 0;
  uint32_t epoch = 0;
};

class RingStore {
 public:
  // Opens path, creating it when missing (zero-filled into a temp file, synced, renamed, the
  // directory synced), recovers, and starts a new boot epoch made durable before any append.
  // An existing ring whose size differs from options.file_bytes is refused (kInvalidArgument):
  // geometry is fixed, and silently resizing would lose data.
  static Result<std::unique_ptr<RingStore>> Open(port::FileSystem* fs, const std::string& path,
                                                 const RingOptions& options);
  // Opens for inspection only (verify, dump, stats): never writes; recovery happens in memory.
  static Result<std::unique_ptr<RingStore>> OpenReadOnly(port::FileSystem* fs,
                                                         const std::string& path);
  ~RingStore();

  const Geometry& geometry() const { return geo_; }
  const RecoveryReport& recovery() const { return report_; }
  const std::string& path() const { return path_; }

  // Appends one batch with one sync. (*results)[i] gets payload i's seq, or too_large /
  // ring_full (after the first ring_full in a batch, the rest fail too, so one producer's
  // pipelined payloads stay in order). A non-OK return means the write or the sync failed:
  // every record of the batch failed with that status, nothing of it is reported durable, the
  // store re-read what is really on disk and began a new epoch. kFailedPrecondition when the
  // store is broken (re-reading failed too) or read-only.
  // The payloads are written from where they are: they must not change until it returns.
  // REQUIRES: the writer thread.
  Status AppendBatch(const std::vector<std::string_view>& payloads,
                     std::vector<Result<uint64_t>>* results);

  // Frees what AppendBatch keeps between batches so a busy writer does not allocate per batch:
  // the batch's record headers and its write list (kRecordHeaderBytes + 2 slices per record;
  // the payloads are written from the caller's memory, never copied). The ring's writer calls
  // this when it has nothing to write, so a burst's lists do not stay resident for the life of
  // the daemon (issue 6, docs/BENCHMARKS.md "Resident memory"). Returns the bytes released.
  // REQUIRES: the writer thread.
  size_t ReleaseBatchLists();

  // The oldest record not yet acknowledged; records [head().seq, next_seq()) are durable.
  Position head() const;
  uint64_t next_seq() const;

  // A reader's read-ahead: one pread fills it with up to kReadAheadBytes (never past a segment
  // end), and the following records are parsed from memory. Bytes in it may go stale (the
  // writer appends behind them); they can never pass for a record (seq, epoch and CRC are
  // checked), and a lookup that fails in the buffer is retried once from the disk.
  // One buffer per reading thread.
  //
  // After a failed write or sync the store re-reads the disk and may give the lost records'
  // seqs to new records; bytes buffered before that could then pass every check under a
  // reused seq. So each reload bumps a generation, and a buffer filled under an older one is
  // never served from.
  struct ReadBuffer {
    uint64_t offset = 0;
    uint64_t generation = 0;
    std::vector<uint8_t> data;
  };
  static constexpr size_t kReadAheadBytes = 256 << 10;

  // Reads the durable record at pos (from head() or a previous Record::next).
  // kNotFound when pos.seq is not in [head().seq, next_seq()) (below the head: acknowledged,
  // or dropped under drop_oldest; continue from head()). kCorruption when the record is in a
  // damaged range found by recovery: rec->next is then where the good records resume.
  Status Read(const Position& pos, Record* rec, ReadBuffer* buffer = nullptr) const;

  // Every record with seq < next_unacked.seq is acknowledged (confirmed by the broker); the
  // space becomes reusable once a checkpoint has made the new head durable. Positions at or
  // below the head are ignored; positions beyond the durable tail are an error.
  Status Acknowledge(const Position& next_unacked);

  // Writes a meta slot (one 4 KiB write + sync) when the head, the gaps or the durable hint
  // changed since the last one. REQUIRES: the writer thread.
  Status Checkpoint();
  bool CheckpointPending() const;

  // Seq ranges dropped under drop_oldest and not yet reported upstream, oldest first.
  std::vector<Gap> PendingGaps() const;
  // True when more than kMaxGaps ranges had to be merged: the pending ranges then also cover
  // seqs that were not dropped (never the other way round).
  bool PendingGapsApproximate() const;
  // Every dropped seq up to and including last_seq was reported: gaps that end there or
  // before go, a gap that goes on past it keeps its rest (a later drop may have extended the
  // gap a report covered). Persisted by the next checkpoint. Any thread.
  void MarkGapsReportedThrough(uint64_t last_seq);

  RingStats stats() const;

  // Scans the whole ring from the head and checks every record; fills report-like output.
  // Used by `edge-agent ring verify`.
  Status Verify(std::vector<Damage>* damage, uint64_t* records) const;

 private:
  struct ScanResult;
  RingStore(std::string path, bool read_only);

  static Status CreateFile(port::FileSystem* fs, const std::string& path,
                           const RingOptions& options);
  Status LoadHeaderAndMeta();
  // With both meta slots damaged: a meta built from the records themselves (see the .cc).
  void RebuildMetaFromRecords();
  // Walks the records from start; never changes state. Used by recovery, re-reading after an
  // I/O error, and Verify.
  void Scan(const Position& start, uint64_t durable_seq_hint, uint64_t durable_offset_hint,
            ScanResult* out) const;
  void ApplyScanLocked(const Position& start, const ScanResult& scan);
  // Recovery at open: scans from the meta slot's head (moving it along when the records from it
  // run more than a whole ring; see the .cc) and applies the result.
  void RecoverFromMetaHeadLocked();
  Status StartEpochLocked();
  Status WriteMetaLocked();
  void ReloadAfterIoErrorLocked(const Status& cause);
  // Finds record expected_seq at offset, after batch padding, or at the next segment start.
  bool Locate(uint64_t offset, uint64_t expected_seq, uint32_t min_epoch, uint64_t* found_offset,
              RecordHeader* h, std::string* payload, ReadBuffer* rb) const;
  // A valid record at exactly offset: magic, bounds, seq, epoch and CRC all check out.
  bool ValidRecordAt(uint64_t offset, uint64_t expected_seq, uint32_t min_epoch, RecordHeader* h,
                     std::string* payload, ReadBuffer* rb) const;
  // Points *p at n bytes at off, through rb when it holds them or can be refilled to.
  bool Fetch(uint64_t off, size_t n, ReadBuffer* rb, std::vector<uint8_t>* scratch,
             const uint8_t** p) const;
  // After a bad record: the next valid batch start with a higher seq, within limit bytes.
  bool Resync(uint64_t from, uint64_t expected_seq, uint32_t min_epoch, uint64_t limit_bytes,
              uint64_t* found_offset, RecordHeader* h) const;
  uint64_t Normalize(uint64_t offset) const;
  uint64_t DistanceFrom(uint64_t from, uint64_t to) const;
  bool SegmentInUseLocked(uint32_t seg) const;
  // Records the range in the gap report; the caller counts it.
  void AddGapLocked(uint64_t first, uint64_t last);
  // How many seqs of [first, end) lie in the damage recovery found.
  uint64_t DamagedSeqsLocked(uint64_t first, uint64_t end) const;
  // Moves the acknowledged head forward and counts the damaged seqs it passes; returns them.
  uint64_t MoveHeadLocked(const Position& to);
  Status PrepareSegmentLocked(uint32_t seg);

  std::string path_;
  std::unique_ptr<port::FileLock> lock_;
  std::unique_ptr<port::File> file_;
  bool read_only_;
  RingOptions options_;
  Geometry geo_;
  RecoveryReport report_;

  mutable std::mutex mu_;
  // Guarded by mu_:
  Meta meta_;                   // the last meta written (or loaded); its head is the durable head
  int meta_next_slot_ = 0;      // slot the next meta write goes to
  Position head_;               // in-memory acknowledged head (>= meta_.head_seq)
  uint64_t next_seq_ = 1;       // seq of the next record; [head_.seq, next_seq_) are durable
  uint64_t tail_ = kDataOffset; // where the next batch starts (kBatchAlignBytes aligned)
  uint32_t tail_seg_ = 0;       // segment holding the newest record (or tail_)
  // The first record written in each segment this lap (seq 0: none known). Its offset is the
  // segment start, except where recovery found that record damaged and resumed further in.
  std::vector<Position> seg_first_;
  std::vector<Gap> gaps_;       // dropped ranges not yet reported
  bool gaps_approximate_ = false;
  bool meta_dirty_ = false;  // head/gaps/hint differ from meta_
  bool broken_ = false;      // an I/O error could not be recovered from
  // Bumped (release) after every re-read of the disk; see ReadBuffer. Read without mu_.
  std::atomic<uint64_t> reload_generation_{0};
  Status broken_status_;
  RingStats stats_;
  // Writer thread only, for the batch in hand: its record headers, and the write list that
  // interleaves them with the caller's payloads and the closing padding.
  std::vector<uint8_t> batch_headers_;
  std::vector<port::ConstSlice> batch_slices_;
};

}  // namespace edge::ring
