// SimFileSystem must model the durability contract of port/file.h faithfully: it keeps every
// promise the contract makes (synced data survives) and breaks, sometimes, every promise it does
// not make (un-synced data, un-synced directory entries, data behind a failed fsync). The ring's
// power-cut test is only as strong as these properties.
#include "port/sim_fs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace edge::port {
namespace {

constexpr char kPath[] = "/ring/data";

std::string Bytes(size_t n, char c) { return std::string(n, c); }

std::unique_ptr<File> MustCreate(FileSystem& fs, const std::string& path) {
  auto f = fs.Create(path);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return std::move(f).value();
}

std::string ReadAll(File& f) {
  auto size = f.Size();
  EXPECT_TRUE(size.ok()) << size.status().ToString();
  std::string out(*size, '\0');
  EXPECT_TRUE(f.ReadAt(0, out.data(), out.size()).ok());
  return out;
}

// Reads the whole file after a reboot, or "<missing>" when its name did not survive.
std::string ReadAfterReboot(SimFileSystem& fs, const std::string& path) {
  auto f = fs.Open(path, Access::kReadOnly);
  if (!f.ok()) return "<missing>";
  return ReadAll(**f);
}

// A file of 4 sectors of 'a', fully synced with its directory entry.
std::unique_ptr<SimFileSystem> FsWithSyncedFile() {
  auto fs = std::make_unique<SimFileSystem>(7);
  auto f = MustCreate(*fs, kPath);
  EXPECT_TRUE(f->WriteAt(0, Bytes(4 * kSectorBytes, 'a').data(), 4 * kSectorBytes).ok());
  EXPECT_TRUE(f->Sync().ok());
  EXPECT_TRUE(fs->SyncDir("/ring").ok());
  return fs;
}

TEST(SimFileSystem, SyncedDataSurvivesEveryPowerCut) {
  auto fs = FsWithSyncedFile();
  {
    auto f = fs->Open(kPath, Access::kReadWrite);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->WriteAt(100, "synced", 6).ok());
    ASSERT_TRUE((*f)->Sync().ok());
  }
  std::string expected = Bytes(4 * kSectorBytes, 'a').replace(100, 6, "synced");
  // Even a mix that turns every un-synced sector into garbage must leave synced sectors alone.
  fs->SetFaultMix(SimFaultMix{0, 0, 1, 1, 1, 1});
  for (uint64_t seed = 0; seed < 300; seed++) {
    auto image = fs->Clone();
    image->PowerCut(seed);
    ASSERT_EQ(ReadAfterReboot(*image, kPath), expected) << "seed " << seed;
  }
}

TEST(SimFileSystem, UnsyncedWritesAreSometimesKeptSometimesLostSometimesTornPerSector) {
  auto fs = FsWithSyncedFile();
  auto f = fs->Open(kPath, Access::kReadWrite);
  ASSERT_TRUE(f.ok());
  // Touches sectors 1 and 2 partly: [kSectorBytes + 100, 2 * kSectorBytes + 100).
  ASSERT_TRUE(
      (*f)->WriteAt(kSectorBytes + 100, Bytes(kSectorBytes, 'b').data(), kSectorBytes).ok());
  std::string written = Bytes(4 * kSectorBytes, 'a')
                            .replace(kSectorBytes + 100, kSectorBytes, Bytes(kSectorBytes, 'b'));

  std::set<std::string> fates;
  for (uint64_t seed = 0; seed < 400; seed++) {
    auto image = fs->Clone();
    image->PowerCut(seed);
    std::string got = ReadAfterReboot(*image, kPath);
    ASSERT_EQ(got.size(), 4 * kSectorBytes) << "seed " << seed;
    // Untouched sectors 0 and 3 are synced data: always intact.
    ASSERT_EQ(got.substr(0, kSectorBytes), written.substr(0, kSectorBytes)) << "seed " << seed;
    ASSERT_EQ(got.substr(3 * kSectorBytes), written.substr(3 * kSectorBytes)) << "seed " << seed;
    for (size_t s = 1; s <= 2; s++) {
      std::string sector = got.substr(s * kSectorBytes, kSectorBytes);
      if (sector == Bytes(kSectorBytes, 'a')) {
        fates.insert("old");
      } else if (sector == written.substr(s * kSectorBytes, kSectorBytes)) {
        fates.insert("new");
      } else if (sector == Bytes(kSectorBytes, '\0')) {
        fates.insert("zeros");
      } else {
        // Garbage covers the whole sector, including the synced bytes the write did not touch.
        size_t kept_a = 0;
        for (char c : sector) kept_a += c == 'a';
        EXPECT_LT(kept_a, 16u) << "seed " << seed;
        fates.insert("garbage");
      }
    }
  }
  EXPECT_EQ(fates, (std::set<std::string>{"old", "new", "zeros", "garbage"}));
}

TEST(SimFileSystem, DropOrKeepModeOnlyKeepsOrDropsWholeSectors) {
  auto fs = FsWithSyncedFile();
  fs->SetFaultMix(SimFaultMix::DropOrKeep());
  auto f = fs->Open(kPath, Access::kReadWrite);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->WriteAt(0, Bytes(3 * kSectorBytes, 'b').data(), 3 * kSectorBytes).ok());
  std::set<std::string> images;
  for (uint64_t seed = 0; seed < 200; seed++) {
    auto image = fs->Clone();
    image->PowerCut(seed);
    std::string got = ReadAfterReboot(*image, kPath);
    for (size_t s = 0; s < 3; s++) {
      std::string sector = got.substr(s * kSectorBytes, kSectorBytes);
      ASSERT_TRUE(sector == Bytes(kSectorBytes, 'a') || sector == Bytes(kSectorBytes, 'b'))
          << "seed " << seed << " sector " << s;
    }
    images.insert(got);
  }
  // Independent per sector: all 2^3 combinations show up, i.e. writes land out of order.
  EXPECT_EQ(images.size(), 8u);
}

TEST(SimFileSystem, PowerCutIsDeterministicFromItsSeed) {
  auto fs = FsWithSyncedFile();
  auto f = fs->Open(kPath, Access::kReadWrite);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->WriteAt(10, Bytes(3000, 'z').data(), 3000).ok());
  auto a = fs->Clone();
  auto b = fs->Clone();
  a->PowerCut(42);
  b->PowerCut(42);
  EXPECT_EQ(ReadAfterReboot(*a, kPath), ReadAfterReboot(*b, kPath));
}

TEST(SimFileSystem, FailedSyncMarksPagesCleanSoALaterSyncSucceedsWithoutTheData) {
  int lost_runs = 0;
  int kept_runs = 0;
  for (uint64_t seed = 1; seed <= 64; seed++) {
    SimFileSystem fs(seed);
    auto f = MustCreate(fs, kPath);
    ASSERT_TRUE(f->WriteAt(0, Bytes(2 * kSectorBytes, 'a').data(), 2 * kSectorBytes).ok());
    ASSERT_TRUE(f->Sync().ok());
    ASSERT_TRUE(fs.SyncDir("/ring").ok());

    fs.FailSyncs(0, 1);
    ASSERT_TRUE(f->WriteAt(0, Bytes(2 * kSectorBytes, 'b').data(), 2 * kSectorBytes).ok());
    Status failed = f->Sync();
    ASSERT_EQ(failed.code(), Code::kIoError);
    // The page cache still shows the written bytes: reading back proves nothing.
    ASSERT_EQ(ReadAll(*f), Bytes(2 * kSectorBytes, 'b'));
    // Retrying "works" but writes nothing: the pages were marked clean.
    ASSERT_TRUE(f->Sync().ok());
    ASSERT_EQ(ReadAll(*f), Bytes(2 * kSectorBytes, 'b'));

    ASSERT_TRUE(f->DropCache().ok());
    std::string device = ReadAll(*f);
    // What the device holds is exactly what any later power cut finds.
    auto image = fs.Clone();
    image->PowerCut(seed);
    ASSERT_EQ(ReadAfterReboot(*image, kPath), device) << "seed " << seed;
    for (size_t s = 0; s < 2; s++) {
      std::string sector = device.substr(s * kSectorBytes, kSectorBytes);
      ASSERT_TRUE(sector == Bytes(kSectorBytes, 'a') || sector == Bytes(kSectorBytes, 'b'));
    }
    if (device == Bytes(2 * kSectorBytes, 'b')) {
      kept_runs++;
    } else {
      lost_runs++;
    }
  }
  EXPECT_GT(lost_runs, 0);
  EXPECT_GT(kept_runs, 0);
}

TEST(SimFileSystem, DropCacheKeepsDirtyPagesThatNoSyncHasFailed) {
  auto fs = FsWithSyncedFile();
  auto f = fs->Open(kPath, Access::kReadWrite);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->WriteAt(0, "dirty", 5).ok());
  ASSERT_TRUE((*f)->DropCache().ok());
  std::string got(5, '\0');
  ASSERT_TRUE((*f)->ReadAt(0, got.data(), 5).ok());
  EXPECT_EQ(got, "dirty");
}

TEST(SimFileSystem, NewDirectoryEntryIsSometimesLostWithoutSyncDir) {
  SimFileSystem fs(3);
  auto f = MustCreate(fs, kPath);
  ASSERT_TRUE(f->WriteAt(0, "data", 4).ok());
  ASSERT_TRUE(f->Sync().ok());  // the data is durable, the name is not
  int missing = 0;
  int present = 0;
  for (uint64_t seed = 0; seed < 100; seed++) {
    auto image = fs.Clone();
    image->PowerCut(seed);
    std::string got = ReadAfterReboot(*image, kPath);
    if (got == "<missing>") {
      missing++;
    } else {
      ASSERT_EQ(got, "data");
      present++;
    }
  }
  EXPECT_GT(missing, 0);
  EXPECT_GT(present, 0);

  ASSERT_TRUE(fs.SyncDir("/ring").ok());
  for (uint64_t seed = 0; seed < 100; seed++) {
    auto image = fs.Clone();
    image->PowerCut(seed);
    ASSERT_EQ(ReadAfterReboot(*image, kPath), "data") << "seed " << seed;
  }
}

TEST(SimFileSystem, UnsyncedRenameLeavesEitherTheOldOrTheNewNameNeverBothOrNeither) {
  SimFileSystem fs(5);
  auto f = MustCreate(fs, "/ring/tmp");
  ASSERT_TRUE(f->WriteAt(0, "data", 4).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(fs.SyncDir("/ring").ok());
  ASSERT_TRUE(fs.Rename("/ring/tmp", kPath).ok());
  EXPECT_FALSE(fs.Exists("/ring/tmp"));
  EXPECT_TRUE(fs.Exists(kPath));
  std::set<std::vector<std::string>> outcomes;
  for (uint64_t seed = 0; seed < 100; seed++) {
    auto image = fs.Clone();
    image->PowerCut(seed);
    outcomes.insert(image->ListFiles());
  }
  EXPECT_EQ(outcomes, (std::set<std::vector<std::string>>{{"/ring/tmp"}, {kPath}}));
}

TEST(SimFileSystem, RemovedFileStaysUntilSyncDir) {
  auto fs = FsWithSyncedFile();
  ASSERT_TRUE(fs->Remove(kPath).ok());
  ASSERT_TRUE(fs->Remove(kPath).ok()) << "removing a missing file is OK";
  EXPECT_FALSE(fs->Exists(kPath));
  std::set<bool> survived;
  for (uint64_t seed = 0; seed < 50; seed++) {
    auto image = fs->Clone();
    image->PowerCut(seed);
    survived.insert(image->Exists(kPath));
  }
  EXPECT_EQ(survived, (std::set<bool>{false, true}));
  ASSERT_TRUE(fs->SyncDir("/ring").ok());
  fs->PowerCut(1);
  EXPECT_FALSE(fs->Exists(kPath));
}

TEST(SimFileSystem, CrashAfterOpsStopsTheWorldAtThatOperation) {
  auto fs = FsWithSyncedFile();
  auto f = fs->Open(kPath, Access::kReadWrite);
  ASSERT_TRUE(f.ok());
  int64_t before = fs->mutating_ops();
  fs->CrashAfterOps(2);
  ASSERT_TRUE((*f)->WriteAt(0, "x", 1).ok());
  ASSERT_TRUE((*f)->Sync().ok());
  EXPECT_FALSE(fs->crashed());
  Status s = (*f)->WriteAt(0, "y", 1);
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("simulated power cut"), std::string::npos) << s.message();
  EXPECT_TRUE(fs->crashed());
  EXPECT_EQ(fs->mutating_ops(), before + 2);

  // Everything fails now, reads included.
  char c;
  EXPECT_EQ((*f)->ReadAt(0, &c, 1).code(), Code::kUnavailable);
  EXPECT_EQ((*f)->Sync().code(), Code::kUnavailable);
  EXPECT_EQ((*f)->Size().status().code(), Code::kUnavailable);
  EXPECT_EQ(fs->Open(kPath, Access::kReadOnly).status().code(), Code::kUnavailable);
  EXPECT_EQ(fs->Create("/ring/other").status().code(), Code::kUnavailable);
  EXPECT_EQ(fs->SyncDir("/ring").code(), Code::kUnavailable);
  EXPECT_FALSE(fs->Exists(kPath));
  EXPECT_EQ(fs->mutating_ops(), before + 2);

  // The reboot: the synced 'x' is there, the crashed 'y' never happened.
  fs->PowerCut(9);
  EXPECT_FALSE(fs->crashed());
  EXPECT_EQ(ReadAfterReboot(*fs, kPath)[0], 'x');
}

TEST(SimFileSystem, CrashAfterZeroOpsFailsTheVeryNextMutation) {
  SimFileSystem fs;
  fs.CrashAfterOps(0);
  EXPECT_EQ(fs.Create(kPath).status().code(), Code::kUnavailable);
  EXPECT_EQ(fs.mutating_ops(), 0);
}

TEST(SimFileSystem, PowerCutKillsOpenHandlesAndReleasesLocks) {
  auto fs = FsWithSyncedFile();
  auto f = fs->Open(kPath, Access::kReadWrite);
  ASSERT_TRUE(f.ok());
  auto lock = fs->Lock("/ring/lock");
  ASSERT_TRUE(lock.ok());
  EXPECT_EQ(fs->Lock("/ring/lock").status().code(), Code::kUnavailable);

  fs->PowerCut(1);
  char c;
  EXPECT_EQ((*f)->ReadAt(0, &c, 1).code(), Code::kUnavailable);
  EXPECT_EQ((*f)->WriteAt(0, &c, 1).code(), Code::kUnavailable);
  EXPECT_TRUE(fs->Lock("/ring/lock").ok()) << "a power cut releases every lock";
}

TEST(SimFileSystem, CloneIsADeepCopyOfTheMoment) {
  auto fs = FsWithSyncedFile();
  auto f = fs->Open(kPath, Access::kReadWrite);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->WriteAt(0, "pending", 7).ok());
  auto copy = fs->Clone();
  ASSERT_TRUE((*f)->WriteAt(0, "changed", 7).ok());
  ASSERT_TRUE((*f)->Sync().ok());

  auto g = copy->Open(kPath, Access::kReadOnly);
  ASSERT_TRUE(g.ok());
  std::string got(7, '\0');
  ASSERT_TRUE((*g)->ReadAt(0, got.data(), 7).ok());
  EXPECT_EQ(got, "pending");
  // The copy's un-synced write is still un-synced there: a DropAll power cut loses it.
  copy->SetFaultMix(SimFaultMix::DropAll());
  copy->PowerCut(1);
  EXPECT_EQ(ReadAfterReboot(*copy, kPath).substr(0, 7), "aaaaaaa");
}

TEST(SimFileSystem, FailingWritesReturnTheirCodeAndLaterWritesWork) {
  SimFileSystem fs;
  auto f = MustCreate(fs, kPath);
  fs.FailWrites(1, 2, Code::kNoSpace);
  EXPECT_TRUE(f->WriteAt(0, "a", 1).ok());
  EXPECT_EQ(f->WriteAt(1, "b", 1).code(), Code::kNoSpace);
  EXPECT_EQ(f->WriteAt(1, "b", 1).code(), Code::kNoSpace);
  EXPECT_TRUE(f->WriteAt(1, "b", 1).ok());

  fs.FailWrites(0, 1, Code::kIoError);
  EXPECT_EQ(f->WriteAt(2, "c", 1).code(), Code::kIoError);
}

TEST(SimFileSystem, CapacityLimitFailsABigZeroFillWithNoSpace) {
  SimFileSystem fs;
  fs.SetCapacityBytes(64 * 1024);
  auto f = MustCreate(fs, kPath);
  std::string zeros(16 * 1024, '\0');
  Status s;
  uint64_t offset = 0;
  for (int i = 0; i < 8 && s.ok(); i++, offset += zeros.size()) {
    s = f->WriteAt(offset, zeros.data(), zeros.size());
  }
  EXPECT_EQ(s.code(), Code::kNoSpace);
  EXPECT_NE(s.message().find(kPath), std::string::npos) << "the error names the file";
  EXPECT_EQ(f->Size().value(), 64u * 1024) << "a short write fills what fits";
}

TEST(SimFileSystem, CountsBytesWrittenAndSyncs) {
  SimFileSystem fs;
  auto f = MustCreate(fs, kPath);
  ASSERT_TRUE(f->WriteAt(0, "abc", 3).ok());
  ASSERT_TRUE(f->WriteAt(3, "de", 2).ok());
  ASSERT_TRUE(f->Sync().ok());
  SimFsCounters c = fs.counters();
  EXPECT_EQ(c.bytes_written, 5u);
  EXPECT_EQ(c.writes, 2u);
  EXPECT_EQ(c.syncs, 1u);
}

TEST(SimFileSystem, IsSafeToUseFromSeveralThreads) {
  SimFileSystem fs;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&fs, t] {
      auto f = fs.Create("/d/f" + std::to_string(t));
      ASSERT_TRUE(f.ok());
      std::string block(kSectorBytes, static_cast<char>('a' + t));
      for (int i = 0; i < 200; i++) {
        ASSERT_TRUE((*f)->WriteAt(i * kSectorBytes, block.data(), block.size()).ok());
        if (i % 10 == 0) {
          ASSERT_TRUE((*f)->Sync().ok());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fs.ListFiles().size(), 4u);
  EXPECT_EQ(fs.counters().bytes_written, 4u * 200 * kSectorBytes);
}

// --- The mutation observer (snapshots of multi-threaded workloads) -----------------------------

// The durable content a power cut that keeps nothing un-synced leaves of path in a copy.
std::string DurableAfterDropAllCut(const SimFrozenView& view, const std::string& path) {
  std::unique_ptr<SimFileSystem> image = view.Clone();
  image->SetFaultMix(SimFaultMix::DropAll());
  image->PowerCut(1);
  return ReadAfterReboot(*image, path);
}

TEST(SimFileSystem, ObserverSeesEveryMutationInOrderBeforeItTakesEffect) {
  SimFileSystem fs;
  std::vector<SimMutation> seen;
  std::vector<std::string> durable;  // the file's durable content at each observed moment
  fs.SetMutationObserver([&](const SimMutation& m, const SimFrozenView& view) {
    seen.push_back(m);
    durable.push_back(DurableAfterDropAllCut(view, "/d/f"));
  });
  const std::string block = Bytes(kSectorBytes, 'x');
  auto f = MustCreate(fs, "/d/f");
  ASSERT_TRUE(fs.SyncDir("/d").ok());
  ASSERT_TRUE(f->WriteAt(0, block.data(), block.size()).ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->WriteAt(kSectorBytes, block.data(), 10).ok());
  ASSERT_TRUE(fs.Rename("/d/f", "/d/g").ok());
  ASSERT_TRUE(fs.Remove("/d/g").ok());

  using K = SimMutation::Kind;
  const std::vector<K> kinds = {K::kCreate, K::kSyncDir, K::kWrite, K::kSync,
                                K::kWrite,  K::kRename,  K::kRemove};
  ASSERT_EQ(seen.size(), kinds.size());
  for (size_t i = 0; i < seen.size(); i++) {
    EXPECT_EQ(seen[i].kind, kinds[i]) << i;
    EXPECT_EQ(seen[i].index, static_cast<int64_t>(i));
  }
  EXPECT_EQ(seen[1].path, "/d");
  EXPECT_EQ(seen[4].path, "/d/f");
  EXPECT_EQ(seen[4].offset, kSectorBytes);
  EXPECT_EQ(seen[4].length, 10u);
  EXPECT_EQ(fs.mutating_ops(), static_cast<int64_t>(kinds.size()));
  // Each snapshot is the moment before its operation: the Create has not happened when it is
  // observed, the synced block is not durable while its Sync is observed, and is at the next
  // operation.
  EXPECT_EQ(durable[0], "<missing>");
  EXPECT_EQ(durable[3], "");
  EXPECT_EQ(durable[4], block);
}

TEST(SimFileSystem, ObserverSkipsOperationsStoppedByTheCrashPointAndCanBeRemoved) {
  SimFileSystem fs;
  int calls = 0;
  fs.SetMutationObserver([&](const SimMutation&, const SimFrozenView&) { calls++; });
  auto f = MustCreate(fs, kPath);
  fs.CrashAfterOps(2);
  for (int i = 0; i < 4; i++) (void)f->WriteAt(0, "abc", 3);
  EXPECT_EQ(calls, 3);  // the Create and two writes; the crashed write and the rest are not seen
  fs.PowerCut(1);
  fs.SetMutationObserver(nullptr);
  auto g = MustCreate(fs, kPath);
  ASSERT_TRUE(g->WriteAt(0, "abc", 3).ok());
  EXPECT_EQ(calls, 3);
}

// What the daemon power-cut suite relies on: a fact recorded after an operation returned (here:
// "block i of file t is synced") is in every snapshot taken after the fact was recorded, even
// with other threads writing all the time.
TEST(SimFileSystem, ObserverSnapshotHoldsEverySyncThatReturnedBeforeItFromSeveralThreads) {
  constexpr int kThreads = 3;
  constexpr int kBlocks = 60;
  SimFileSystem fs;
  std::atomic<int> synced[kThreads];
  for (auto& s : synced) s.store(0);
  int snapshots = 0;
  int violations = 0;
  fs.SetMutationObserver([&](const SimMutation& m, const SimFrozenView& view) {
    if (m.index % 7 != 0) return;  // a sample keeps the test quick
    int known[kThreads];
    for (int t = 0; t < kThreads; t++) known[t] = synced[t].load();
    std::unique_ptr<SimFileSystem> image = view.Clone();
    image->SetFaultMix(SimFaultMix::DropAll());
    image->PowerCut(static_cast<uint64_t>(m.index));
    snapshots++;
    for (int t = 0; t < kThreads; t++) {
      auto bytes = image->ReadDurable("/d/f" + std::to_string(t));
      size_t have = bytes.ok() ? bytes->size() : 0;
      if (have < static_cast<size_t>(known[t]) * kSectorBytes) violations++;
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&fs, &synced, t] {
      const std::string path = "/d/f" + std::to_string(t);
      auto f = fs.Create(path);
      ASSERT_TRUE(f.ok());
      ASSERT_TRUE(fs.SyncDir("/d").ok());
      std::string block(kSectorBytes, static_cast<char>('a' + t));
      for (int i = 0; i < kBlocks; i++) {
        ASSERT_TRUE((*f)->WriteAt(i * kSectorBytes, block.data(), block.size()).ok());
        ASSERT_TRUE((*f)->Sync().ok());
        synced[t].store(i + 1);  // only after Sync returned
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(snapshots, 0);
  EXPECT_EQ(violations, 0);
}

}  // namespace
}  // namespace edge::port
