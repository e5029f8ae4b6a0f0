// SimFileSystem: an in-memory FileSystem that models exactly the durability contract of
// port/file.h, and breaks every promise the contract does not make.
//
// Model (per file, i.e. per inode):
//   durable  what the device holds: survives PowerCut.
//   cache    what reads see (the page cache): durable plus every write since.
//   pending  the writes since the last successful Sync, in order (offset, length).
// Sync() copies the pending writes from cache to durable and clears them. Directory changes
// (Create, Rename, Remove) are applied to the live namespace at once, and to the durable namespace
// only by SyncDir() of their directory; a power cut keeps a random prefix of the rest, in order.
//
// PowerCut(seed) resolves every pending write per 512-byte sector it touches: the sector keeps its
// old durable content, gets the new (cached) content, becomes zeros, or becomes garbage (random
// bytes over the whole sector: a torn write damages the rest of the sector it touches). Choices
// are independent per sector, so this covers lost writes, torn writes and reordering. Synced
// sectors are never touched: a power cut never damages data that a successful Sync covered.
//
// Failing fsync follows Linux: the failing Sync resolves the file's pending writes at that moment
// (each sector persisted or not), marks them clean, and returns the error; a later Sync returns
// OK without them; reads keep returning the cached (written) bytes until DropCache().
//
// Everything is deterministic from the constructor seed and the PowerCut seeds, so a failing
// test can be replayed from the seeds it prints.
//
// A workload of several threads cannot be re-run to a chosen operation count (CrashAfterOps):
// its interleaving differs every run. SetMutationObserver instead shows every mutating
// operation, with the file system frozen just before it, so one run can be cloned at every
// I/O point and each clone power-cut many ways.
//
// Thread safety: every method of SimFileSystem and of the File / FileLock objects it returns may
// be called from any thread. One mutex (State::mu, in sim_fs.cc) guards all state, and is held
// only for memory copies. Handles hold a reference to the state they were opened on, so they
// stay safe to call even after the SimFileSystem object is gone; Clone() never shares state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "port/file.h"
#include "port/status.h"

namespace edge::port {

// What a power cut does to each un-synced sector, as relative weights (need not sum to 1).
struct SimFaultMix {
  uint32_t keep_old = 3;  // the write never reached the device
  uint32_t keep_new = 4;  // the write reached the device
  uint32_t zeros = 1;     // the sector reads back as zeros (e.g. an unwritten extent)
  uint32_t garbage = 2;   // the sector is torn: random bytes over the whole sector
  // Weights for whether a file size change not covered by a Sync survives, or not.
  uint32_t size_kept = 1;
  uint32_t size_lost = 1;

  // Only drops or keeps whole sectors (no zeros, no garbage): simpler images for debugging.
  static SimFaultMix DropOrKeep() { return SimFaultMix{1, 1, 0, 0, 1, 1}; }
  // Everything un-synced is lost: the image holds exactly what was synced.
  static SimFaultMix DropAll() { return SimFaultMix{1, 0, 0, 0, 0, 1}; }
};

// Counters for tests and benchmarks; they survive PowerCut and are copied by Clone.
struct SimFsCounters {
  uint64_t bytes_written = 0;  // bytes accepted by WriteAt
  uint64_t writes = 0;         // WriteAt calls that wrote something
  uint64_t syncs = 0;          // Sync calls (including failed ones)
  uint64_t failed_syncs = 0;   // Sync calls failed by FailSyncs
  uint64_t failed_writes = 0;  // WriteAt calls failed by FailWrites or the capacity limit
  uint64_t dir_syncs = 0;
  uint64_t power_cuts = 0;
};

// One mutating operation as a SimMutationObserver sees it, before it takes effect.
struct SimMutation {
  enum class Kind { kWrite, kSync, kCreate, kRename, kRemove, kSyncDir };
  Kind kind = Kind::kWrite;
  std::string path;     // the file (kRename: the old name), or the directory of kSyncDir
  uint64_t offset = 0;  // kWrite only
  uint64_t length = 0;  // kWrite only
  int64_t index = 0;    // mutating operations before this one (mutating_ops() at that moment)
};

class SimFrozenView;

// Called for every mutating operation that passes the crash point (ones failed by injected
// errors included), on the thread doing the operation, before the operation has any effect,
// with the file system frozen: no operation of this file system, on any thread, can start or
// finish until the observer returns, so what it copies (view.Clone()) and what it records
// elsewhere describe one instant.
// REQUIRES of the observer: it must not call this file system or its handles (they would
// deadlock), only the view; it may take other locks, but no thread may hold such a lock while
// it calls this file system.
using SimMutationObserver = std::function<void(const SimMutation&, const SimFrozenView&)>;

class SimFileSystem final : public FileSystem {
 public:
  // seed drives the fault choices that are not given a seed of their own (failing Sync,
  // short writes).
  explicit SimFileSystem(uint64_t seed = 1);
  ~SimFileSystem() override;
  SimFileSystem(const SimFileSystem&) = delete;
  SimFileSystem& operator=(const SimFileSystem&) = delete;

  // FileSystem. Paths are plain strings; directories exist implicitly (SyncDir of any
  // directory is OK). Lock does not create a file. Create gives the name a new, empty file.
  Result<std::unique_ptr<File>> Open(const std::string& path, Access access) override;
  Result<std::unique_ptr<File>> Create(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status SyncDir(const std::string& dir) override;
  bool Exists(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> Lock(const std::string& path) override;

  // --- Power ------------------------------------------------------------------------------

  // The simulated power cut and reboot, in place: every open File handle dies (all its calls
  // return kUnavailable "simulated power cut"), every lock is released, the crash point is
  // disarmed, and every file becomes its durable image with the un-synced writes resolved per
  // sector by the fault mix, from seed. Scheduled Sync / write failures stay armed.
  void PowerCut(uint64_t seed);

  // A deep copy of this moment (durable, cache, pending writes, namespace, counters, fault
  // schedules, crash point), sharing nothing: take many different power cuts of one moment.
  // Handles and locks of this file system do not carry over.
  std::unique_ptr<SimFileSystem> Clone() const;

  void SetFaultMix(const SimFaultMix& mix);

  // Sets (or, with an empty function, removes) the observer of mutating operations; see
  // SimMutationObserver. Not copied by Clone; kept across PowerCut. Used to snapshot a
  // multi-threaded workload at every I/O point (tests/powercut/daemon_powercut_test.cc).
  void SetMutationObserver(SimMutationObserver observer);

  // --- Crash points -------------------------------------------------------------------------

  // After n more mutating operations (WriteAt, Sync, Create, Rename, Remove, SyncDir), every
  // further operation, reads included, fails with kUnavailable "simulated power cut"
  // (n = 0: the very next mutating op fails). The disk keeps its state at that instant; call
  // PowerCut to reboot. n < 0 disarms.
  void CrashAfterOps(int64_t n);
  bool crashed() const;
  // Mutating operations performed so far (ones failed by injection included, the crashed one
  // not). Run a workload once to learn its count, then crash it at every point.
  int64_t mutating_ops() const;

  // --- Injected errors ------------------------------------------------------------------------

  // Lets `skip` more Sync calls pass, then makes the next `count` fail with `code`, with Linux
  // semantics (see the top of this file).
  void FailSyncs(int64_t skip, int count, Code code = Code::kIoError);
  // Lets `skip` more WriteAt calls pass, then fails the next `count` with `code`. A failing
  // write puts a random prefix of its bytes (maybe none) into the cache, as a real short write
  // followed by an error would.
  void FailWrites(int64_t skip, int count, Code code = Code::kNoSpace);
  // Total bytes all files may occupy; a WriteAt growing past it writes what fits, then fails
  // with kNoSpace. 0 = unlimited.
  void SetCapacityBytes(uint64_t capacity_bytes);

  // --- Inspection and damage for tests --------------------------------------------------------

  SimFsCounters counters() const;
  // Files in the live namespace, sorted.
  std::vector<std::string> ListFiles() const;
  // The durable bytes of the file that the live name refers to (what survives a power cut
  // for sure). kNotFound when there is no such name.
  Result<std::string> ReadDurable(const std::string& path) const;
  // Media damage: XORs `mask` into n bytes at offset, in both the durable image and the
  // cache (bit rot the OS cannot see). Not a mutating op; ignores crash points.
  Status CorruptBytes(const std::string& path, uint64_t offset, size_t n, uint8_t mask = 0xff);

  struct State;  // shared with handles; defined in sim_fs.cc

 private:
  friend class SimFrozenView;
  explicit SimFileSystem(std::shared_ptr<State> state);
  static std::unique_ptr<SimFileSystem> CloneLocked(const State& state);
  std::shared_ptr<State> state_;
};

// The file system as an observer finds it: frozen just before the observed operation.
// Valid only during the observer call.
class SimFrozenView {
 public:
  explicit SimFrozenView(const SimFileSystem::State& state) : state_(state) {}
  // A deep copy of this moment, as SimFileSystem::Clone(): the operation being observed has
  // not happened in it. PowerCut the copy to get the crash image "power failed right here".
  std::unique_ptr<SimFileSystem> Clone() const { return SimFileSystem::CloneLocked(state_); }

 private:
  const SimFileSystem::State& state_;  // its mutex is held by the operation being observed
};

}  // namespace edge::port
