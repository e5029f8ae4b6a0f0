// SimFileSystem: see port/sim_fs.h for the model. This file keeps all simulated state in one
// copyable struct (Disk) behind one mutex, so Clone() is a plain copy and handles can share it.
#include "port/sim_fs.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <utility>

namespace edge::port {
namespace {

// splitmix64: tiny, fast, and good enough to pick fault outcomes reproducibly from a seed.
class Rng {
 public:
  explicit Rng(uint64_t seed) : x_(seed) {}
  uint64_t Next() {
    uint64_t z = (x_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0.
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t x_;
};

struct Extent {
  uint64_t offset;
  uint64_t length;
};

struct Inode {
  std::vector<uint8_t> durable;  // the device's content; its size is the durable file size
  std::vector<uint8_t> cache;    // what reads see; never shorter than any pending write's end
  std::vector<Extent> pending;   // writes since the last successful (or failed) Sync, in order
  int handles = 0;               // open handles of the current boot (not copied by Clone)
};

// A directory change not yet made durable by SyncDir.
struct NamespaceOp {
  enum Kind { kLink, kUnlink, kRename } kind;
  std::string from;  // kRename only
  std::string to;    // the name linked, unlinked, or renamed to
  uint64_t inode;    // kLink / kRename
};

// Failures scheduled for the next calls of one kind.
struct FailSchedule {
  int64_t skip = 0;
  int count = 0;
  Code code = Code::kIoError;

  // True when this call must fail; consumes the schedule.
  bool Take() {
    if (count <= 0) return false;
    if (skip > 0) {
      skip--;
      return false;
    }
    count--;
    return true;
  }
};

enum class SectorFate { kOld, kNew, kZeros, kGarbage };

SectorFate PickFate(const SimFaultMix& mix, Rng& rng) {
  uint64_t total = uint64_t{mix.keep_old} + mix.keep_new + mix.zeros + mix.garbage;
  if (total == 0) return SectorFate::kOld;
  uint64_t r = rng.Below(total);
  if (r < mix.keep_old) return SectorFate::kOld;
  r -= mix.keep_old;
  if (r < mix.keep_new) return SectorFate::kNew;
  r -= mix.keep_new;
  if (r < mix.zeros) return SectorFate::kZeros;
  return SectorFate::kGarbage;
}

// Turns the inode's pending writes into durable bytes, sector by sector, as the device might
// have them after a power cut or a failed fdatasync; sectors no pending write touches keep
// their durable content. Clears pending; leaves cache alone.
void ResolvePending(Inode& ino, const SimFaultMix& mix, Rng& rng) {
  uint64_t final_size = ino.durable.size();
  if (ino.cache.size() != ino.durable.size()) {
    uint64_t total = uint64_t{mix.size_kept} + mix.size_lost;
    bool kept = total > 0 && rng.Below(total) < mix.size_kept;
    if (kept) final_size = ino.cache.size();
  }
  // The durable file grows with zeros: an extension whose data never landed reads as zeros.
  ino.durable.resize(final_size, 0);

  std::vector<uint64_t> sectors;
  for (const Extent& e : ino.pending) {
    if (e.length == 0) continue;
    for (uint64_t s = e.offset / kSectorBytes; s <= (e.offset + e.length - 1) / kSectorBytes; s++) {
      sectors.push_back(s);
    }
  }
  std::sort(sectors.begin(), sectors.end());
  sectors.erase(std::unique(sectors.begin(), sectors.end()), sectors.end());

  for (uint64_t s : sectors) {
    uint64_t begin = s * kSectorBytes;
    if (begin >= final_size) break;
    uint64_t end = std::min<uint64_t>(begin + kSectorBytes, final_size);
    uint8_t* dst = ino.durable.data() + begin;
    switch (PickFate(mix, rng)) {
      case SectorFate::kOld:
        break;
      case SectorFate::kNew:
        std::memcpy(dst, ino.cache.data() + begin, end - begin);
        break;
      case SectorFate::kZeros:
        std::memset(dst, 0, end - begin);
        break;
      case SectorFate::kGarbage:
        for (uint64_t i = 0; i < end - begin; i += 8) {
          uint64_t v = rng.Next();
          std::memcpy(dst + i, &v, std::min<uint64_t>(8, end - begin - i));
        }
        break;
    }
  }
  ino.pending.clear();
}

void ApplyOp(const NamespaceOp& op, std::map<std::string, uint64_t>& names) {
  switch (op.kind) {
    case NamespaceOp::kLink:
      names[op.to] = op.inode;
      break;
    case NamespaceOp::kUnlink:
      names.erase(op.to);
      break;
    case NamespaceOp::kRename: {
      auto it = names.find(op.from);
      if (it != names.end() && it->second == op.inode) names.erase(it);
      names[op.to] = op.inode;
      break;
    }
  }
}

bool OpTouchesDir(const NamespaceOp& op, const std::string& dir) {
  if (DirName(op.to) == dir) return true;
  return op.kind == NamespaceOp::kRename && DirName(op.from) == dir;
}

Status PowerCutStatus(const std::string& path) {
  return Status::Unavailable(path + ": simulated power cut");
}

}  // namespace

// Everything the simulation knows. Plain data: Clone() copies it.
struct Disk {
  std::map<uint64_t, Inode> inodes;
  uint64_t next_inode = 1;
  std::map<std::string, uint64_t> live;     // the namespace as the running system sees it
  std::map<std::string, uint64_t> durable;  // the namespace a reboot would find for sure
  std::vector<NamespaceOp> pending_ns;      // in order; not yet made durable by SyncDir
  uint64_t boot = 0;                        // +1 per PowerCut; handles of older boots are dead
  std::set<std::string> locks;              // paths locked in this boot

  int64_t crash_after = -1;  // mutating ops left before the crash; < 0: no crash point
  bool crashed = false;
  int64_t mutating_ops = 0;
  FailSchedule sync_failures;
  FailSchedule write_failures;
  uint64_t capacity_bytes = 0;
  SimFaultMix mix;
  Rng rng{1};  // for failures that have no seed of their own (failing Sync, short writes)
  SimFsCounters counters;

  uint64_t UsedBytes() const {
    uint64_t used = 0;
    for (const auto& [id, ino] : inodes) used += ino.cache.size();
    return used;
  }

  // Drops inodes that no name, pending directory change or open handle can reach any more.
  void CollectGarbage() {
    std::set<uint64_t> reachable;
    for (const auto& [name, id] : live) reachable.insert(id);
    for (const auto& [name, id] : durable) reachable.insert(id);
    for (const NamespaceOp& op : pending_ns) {
      if (op.kind != NamespaceOp::kUnlink) reachable.insert(op.inode);
    }
    for (auto it = inodes.begin(); it != inodes.end();) {
      if (it->second.handles == 0 && reachable.count(it->first) == 0) {
        it = inodes.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Gate for every mutating operation: counts it, or fails it at the crash point.
  Status BeginMutation(const std::string& path) {
    if (crashed) return PowerCutStatus(path);
    if (crash_after == 0) {
      crashed = true;
      return PowerCutStatus(path);
    }
    if (crash_after > 0) crash_after--;
    mutating_ops++;
    return Status::Ok();
  }
};

struct SimFileSystem::State {
  std::mutex mu;  // guards disk and observer
  Disk disk;
  // Not part of Disk: a clone does not inherit it. Called with mu held (see sim_fs.h).
  SimMutationObserver observer;

  // Tells the observer about the mutating operation that just passed BeginMutation (so
  // disk.mutating_ops already counts it) and has not yet taken effect. REQUIRES: mu held.
  void Observe(SimMutation::Kind kind, const std::string& path, uint64_t offset = 0,
               uint64_t length = 0) const {
    if (!observer) return;
    SimMutation m;
    m.kind = kind;
    m.path = path;
    m.offset = offset;
    m.length = length;
    m.index = disk.mutating_ops - 1;
    observer(m, SimFrozenView(*this));
  }
};

namespace {

using State = SimFileSystem::State;

class SimFile final : public File {
 public:
  SimFile(std::shared_ptr<State> st, std::string path, uint64_t inode, uint64_t boot, bool writable)
      : st_(std::move(st)),
        path_(std::move(path)),
        inode_(inode),
        boot_(boot),
        writable_(writable) {}

  ~SimFile() override {
    std::lock_guard<std::mutex> lock(st_->mu);
    Disk& d = st_->disk;
    if (d.boot != boot_) return;  // the power cut already forgot this handle
    auto it = d.inodes.find(inode_);
    if (it != d.inodes.end()) it->second.handles--;
    d.CollectGarbage();
  }

  Status WriteAt(uint64_t offset, const void* data, size_t n) override {
    std::lock_guard<std::mutex> lock(st_->mu);
    Disk& d = st_->disk;
    if (d.boot != boot_) return PowerCutStatus(path_);
    EDGE_RETURN_IF_ERROR(d.BeginMutation(path_));
    st_->Observe(SimMutation::Kind::kWrite, path_, offset, n);
    if (!writable_) return Status::PermissionDenied(path_ + ": write on a read-only handle");
    Inode& ino = d.inodes.at(inode_);
    if (d.write_failures.Take()) {
      // A short write, then the error: some prefix of the bytes may already be in the cache.
      Put(d, ino, offset, data, d.rng.Below(n + 1));
      d.counters.failed_writes++;
      return Status(d.write_failures.code,
                    path_ + ": write failed (simulated " + CodeName(d.write_failures.code) + ")");
    }
    if (d.capacity_bytes > 0) {
      uint64_t end = offset + n;
      uint64_t growth = end > ino.cache.size() ? end - ino.cache.size() : 0;
      uint64_t used = d.UsedBytes();
      if (used + growth > d.capacity_bytes) {
        uint64_t max_end =
            ino.cache.size() + (d.capacity_bytes > used ? d.capacity_bytes - used : 0);
        Put(d, ino, offset, data, max_end > offset ? std::min<uint64_t>(n, max_end - offset) : 0);
        d.counters.failed_writes++;
        return Status::NoSpace(path_ + ": write failed: No space left on device (simulated, " +
                               std::to_string(d.capacity_bytes) + " bytes capacity)");
      }
    }
    Put(d, ino, offset, data, n);
    return Status::Ok();
  }

  Status ReadAt(uint64_t offset, void* data, size_t n) const override {
    std::lock_guard<std::mutex> lock(st_->mu);
    const Disk& d = st_->disk;
    if (d.boot != boot_ || d.crashed) return PowerCutStatus(path_);
    const Inode& ino = d.inodes.at(inode_);
    if (offset > ino.cache.size() || n > ino.cache.size() - offset) {
      return Status::Corruption(path_ + ": short read at offset " + std::to_string(offset) +
                                " (file ends early)");
    }
    if (n > 0) std::memcpy(data, ino.cache.data() + offset, n);
    return Status::Ok();
  }

  Status Sync() override {
    std::lock_guard<std::mutex> lock(st_->mu);
    Disk& d = st_->disk;
    if (d.boot != boot_) return PowerCutStatus(path_);
    EDGE_RETURN_IF_ERROR(d.BeginMutation(path_));
    st_->Observe(SimMutation::Kind::kSync, path_);
    d.counters.syncs++;
    Inode& ino = d.inodes.at(inode_);
    if (d.sync_failures.Take()) {
      // Linux: the writeback of each page either happened or not; either way the pages are
      // marked clean, so the next fdatasync has nothing to write and returns OK. The cache
      // keeps the written bytes until the caller drops it.
      ResolvePending(ino, SimFaultMix::DropOrKeep(), d.rng);
      d.counters.failed_syncs++;
      return Status(d.sync_failures.code, path_ +
                                              ": fdatasync failed: Input/output error "
                                              "(simulated)");
    }
    ino.durable.resize(ino.cache.size(), 0);
    for (const Extent& e : ino.pending) {
      std::memcpy(ino.durable.data() + e.offset, ino.cache.data() + e.offset, e.length);
    }
    ino.pending.clear();
    return Status::Ok();
  }

  Status DropCache() override {
    std::lock_guard<std::mutex> lock(st_->mu);
    Disk& d = st_->disk;
    if (d.boot != boot_ || d.crashed) return PowerCutStatus(path_);
    Inode& ino = d.inodes.at(inode_);
    // Clean pages are dropped and re-read from the device; dirty ones (pending) stay.
    std::vector<uint8_t> fresh = ino.durable;
    if (!ino.pending.empty()) {
      fresh.resize(std::max(fresh.size(), ino.cache.size()), 0);
      for (const Extent& e : ino.pending) {
        std::memcpy(fresh.data() + e.offset, ino.cache.data() + e.offset, e.length);
      }
    }
    ino.cache = std::move(fresh);
    return Status::Ok();
  }

  Result<uint64_t> Size() const override {
    std::lock_guard<std::mutex> lock(st_->mu);
    const Disk& d = st_->disk;
    if (d.boot != boot_ || d.crashed) return PowerCutStatus(path_);
    return static_cast<uint64_t>(d.inodes.at(inode_).cache.size());
  }

  const std::string& path() const override { return path_; }

 private:
  // REQUIRES: st_->mu held.
  static void Put(Disk& d, Inode& ino, uint64_t offset, const void* data, uint64_t n) {
    if (n == 0) return;
    if (ino.cache.size() < offset + n) ino.cache.resize(offset + n, 0);
    std::memcpy(ino.cache.data() + offset, data, n);
    // Coalesce a sequential write with the previous one: same sectors, fewer extents.
    if (!ino.pending.empty() && ino.pending.back().offset + ino.pending.back().length == offset) {
      ino.pending.back().length += n;
    } else {
      ino.pending.push_back(Extent{offset, n});
    }
    d.counters.bytes_written += n;
    d.counters.writes++;
  }

  std::shared_ptr<State> st_;
  const std::string path_;
  const uint64_t inode_;
  const uint64_t boot_;
  const bool writable_;
};

class SimLock final : public FileLock {
 public:
  SimLock(std::shared_ptr<State> st, std::string path, uint64_t boot)
      : st_(std::move(st)), path_(std::move(path)), boot_(boot) {}
  ~SimLock() override {
    std::lock_guard<std::mutex> lock(st_->mu);
    if (st_->disk.boot == boot_) st_->disk.locks.erase(path_);
  }

 private:
  std::shared_ptr<State> st_;
  std::string path_;
  uint64_t boot_;
};

}  // namespace

SimFileSystem::SimFileSystem(uint64_t seed) : state_(std::make_shared<State>()) {
  state_->disk.rng = Rng(seed);
}

SimFileSystem::SimFileSystem(std::shared_ptr<State> state) : state_(std::move(state)) {}

SimFileSystem::~SimFileSystem() = default;

Result<std::unique_ptr<File>> SimFileSystem::Open(const std::string& path, Access access) {
  std::lock_guard<std::mutex> lock(state_->mu);
  Disk& d = state_->disk;
  if (d.crashed) return PowerCutStatus(path);
  auto it = d.live.find(path);
  if (it == d.live.end()) {
    return Status::NotFound(path + ": open failed: No such file or directory");
  }
  d.inodes.at(it->second).handles++;
  return std::unique_ptr<File>(
      new SimFile(state_, path, it->second, d.boot, access == Access::kReadWrite));
}

Result<std::unique_ptr<File>> SimFileSystem::Create(const std::string& path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  Disk& d = state_->disk;
  EDGE_RETURN_IF_ERROR(d.BeginMutation(path));
  state_->Observe(SimMutation::Kind::kCreate, path);
  // A fresh inode under the name: the same as O_TRUNC for every caller that does not keep
  // another handle on the old file open.
  uint64_t id = d.next_inode++;
  d.inodes[id].handles = 1;
  d.live[path] = id;
  d.pending_ns.push_back(NamespaceOp{NamespaceOp::kLink, "", path, id});
  d.CollectGarbage();
  return std::unique_ptr<File>(new SimFile(state_, path, id, d.boot, true));
}

Status SimFileSystem::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(state_->mu);
  Disk& d = state_->disk;
  EDGE_RETURN_IF_ERROR(d.BeginMutation(from));
  state_->Observe(SimMutation::Kind::kRename, from);
  auto it = d.live.find(from);
  if (it == d.live.end()) {
    return Status::NotFound(from + ": rename to " + to + " failed: No such file or directory");
  }
  uint64_t id = it->second;
  d.live.erase(it);
  d.live[to] = id;
  d.pending_ns.push_back(NamespaceOp{NamespaceOp::kRename, from, to, id});
  d.CollectGarbage();
  return Status::Ok();
}

Status SimFileSystem::Remove(const std::string& path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  Disk& d = state_->disk;
  EDGE_RETURN_IF_ERROR(d.BeginMutation(path));
  state_->Observe(SimMutation::Kind::kRemove, path);
  if (d.live.erase(path) == 0) return Status::Ok();
  d.pending_ns.push_back(NamespaceOp{NamespaceOp::kUnlink, "", path, 0});
  d.CollectGarbage();
  return Status::Ok();
}

Status SimFileSystem::SyncDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(state_->mu);
  Disk& d = state_->disk;
  EDGE_RETURN_IF_ERROR(d.BeginMutation(dir));
  state_->Observe(SimMutation::Kind::kSyncDir, dir);
  d.counters.dir_syncs++;
  std::vector<NamespaceOp> rest;
  for (NamespaceOp& op : d.pending_ns) {
    if (OpTouchesDir(op, dir)) {
      ApplyOp(op, d.durable);
    } else {
      rest.push_back(std::move(op));
    }
  }
  d.pending_ns = std::move(rest);
  d.CollectGarbage();
  return Status::Ok();
}

bool SimFileSystem::Exists(const std::string& path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  const Disk& d = state_->disk;
  return !d.crashed && d.live.count(path) > 0;
}

Result<std::unique_ptr<FileLock>> SimFileSystem::Lock(const std::string& path) {
  std::lock_guard<std::mutex> lock(state_->mu);
  Disk& d = state_->disk;
  if (d.crashed) return PowerCutStatus(path);
  if (!d.locks.insert(path).second) {
    return Status::Unavailable(path +
                               ": locked by another process (is another edge-agent "
                               "using this ring?)");
  }
  return std::unique_ptr<FileLock>(new SimLock(state_, path, d.boot));
}

void SimFileSystem::PowerCut(uint64_t seed) {
  std::lock_guard<std::mutex> lock(state_->mu);
  Disk& d = state_->disk;
  Rng rng(seed);
  // Directory changes not yet synced: some prefix of them reached the journal, in order.
  size_t keep = static_cast<size_t>(rng.Below(d.pending_ns.size() + 1));
  for (size_t i = 0; i < keep; i++) ApplyOp(d.pending_ns[i], d.durable);
  d.pending_ns.clear();
  d.live = d.durable;

  for (auto& [id, ino] : d.inodes) {
    ino.handles = 0;
    ResolvePending(ino, d.mix, rng);
    ino.cache = ino.durable;
  }
  d.CollectGarbage();
  d.boot++;
  d.locks.clear();
  d.crashed = false;
  d.crash_after = -1;
  d.counters.power_cuts++;
}

std::unique_ptr<SimFileSystem> SimFileSystem::Clone() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return CloneLocked(*state_);
}

std::unique_ptr<SimFileSystem> SimFileSystem::CloneLocked(const State& state) {
  auto copy = std::make_shared<State>();
  copy->disk = state.disk;
  Disk& d = copy->disk;
  // Handles and locks belong to the original; in the copy nothing is open, but inodes that
  // only an open handle kept alive stay until the next power cut, as on the original.
  for (auto& [id, ino] : d.inodes) ino.handles = 0;
  d.locks.clear();
  d.boot++;
  return std::unique_ptr<SimFileSystem>(new SimFileSystem(std::move(copy)));
}

void SimFileSystem::SetMutationObserver(SimMutationObserver observer) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->observer = std::move(observer);
}

void SimFileSystem::SetFaultMix(const SimFaultMix& mix) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->disk.mix = mix;
}

void SimFileSystem::CrashAfterOps(int64_t n) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->disk.crash_after = n < 0 ? -1 : n;
}

bool SimFileSystem::crashed() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->disk.crashed;
}

int64_t SimFileSystem::mutating_ops() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->disk.mutating_ops;
}

void SimFileSystem::FailSyncs(int64_t skip, int count, Code code) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->disk.sync_failures = FailSchedule{skip, count, code};
}

void SimFileSystem::FailWrites(int64_t skip, int count, Code code) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->disk.write_failures = FailSchedule{skip, count, code};
}

void SimFileSystem::SetCapacityBytes(uint64_t capacity_bytes) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->disk.capacity_bytes = capacity_bytes;
}

SimFsCounters SimFileSystem::counters() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->disk.counters;
}

std::vector<std::string> SimFileSystem::ListFiles() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  std::vector<std::string> names;
  for (const auto& [name, id] : state_->disk.live) names.push_back(name);
  return names;
}

Result<std::string> SimFileSystem::ReadDurable(const std::string& path) const {
  std::lock_guard<std::mutex> lock(state_->mu);
  const Disk& d = state_->disk;
  auto it = d.live.find(path);
  if (it == d.live.end()) return Status::NotFound(path + ": no such file");
  const std::vector<uint8_t>& bytes = d.inodes.at(it->second).durable;
  return std::string(bytes.begin(), bytes.end());
}

Status SimFileSystem::CorruptBytes(const std::string& path, uint64_t offset, size_t n,
                                   uint8_t mask) {
  std::lock_guard<std::mutex> lock(state_->mu);
  Disk& d = state_->disk;
  auto it = d.live.find(path);
  if (it == d.live.end()) return Status::NotFound(path + ": no such file");
  Inode& ino = d.inodes.at(it->second);
  for (std::vector<uint8_t>* bytes : {&ino.durable, &ino.cache}) {
    for (uint64_t i = offset; i < offset + n && i < bytes->size(); i++) (*bytes)[i] ^= mask;
  }
  return Status::Ok();
}

}  // namespace edge::port
