// The dead-letter file keeps what the broker would not take, and the ring lets a record go once
// its entry is synced here: an entry, once Append returned, must survive every power cut, and
// entries written after a crash must be readable whatever the crash left at the end of the file.
#include "agent/publish/dead_letter_file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "port/sim_fs.h"

namespace edge::publish {
namespace {

constexpr char kPath[] = "/var/lib/edge-agent/dead-letters.jsonl";

DeadLetter Entry(uint64_t seq) {
  DeadLetter e;
  e.time_ms = 1732480000000 + seq;
  e.agent_id = "gw-1";
  e.seq = seq;
  e.route = "telemetry";
  e.reason = "returned";
  e.reply_code = 312;
  e.reply_text = "NO_ROUTE";
  e.attempts = 1;
  e.payload = "payload of seq " + std::to_string(seq) + std::string(seq % 300, 'x');
  return e;
}

std::vector<uint64_t> SeqsIn(port::SimFileSystem* fs) {
  auto all = DeadLetterFile::ReadAll(fs, kPath);
  EXPECT_TRUE(all.ok()) << all.status().ToString();
  std::vector<uint64_t> seqs;
  if (!all.ok()) return seqs;
  for (const DeadLetter& e : *all) {
    EXPECT_EQ(e.payload, Entry(e.seq).payload) << "seq " << e.seq;
    seqs.push_back(e.seq);
  }
  return seqs;
}

// A power cut while the next entry is being written (written, not yet synced) may tear the
// sectors that write touched; it must never take an entry whose Append had returned with it.
TEST(DeadLetterFile, AnEntryWhoseAppendReturnedSurvivesAPowerCutDuringTheNextAppend) {
  for (uint64_t cut = 1; cut <= 200; cut++) {
    port::SimFileSystem fs(cut);
    {
      auto dlf = DeadLetterFile::Open(&fs, kPath);
      ASSERT_TRUE(dlf.ok()) << dlf.status().ToString();
      ASSERT_TRUE((*dlf)->Append(Entry(1)).ok());
      ASSERT_TRUE((*dlf)->Append(Entry(2)).ok());
      fs.CrashAfterOps(1);  // the next entry's write happens, its fdatasync does not
      EXPECT_FALSE((*dlf)->Append(Entry(3)).ok());
    }
    fs.SetFaultMix(port::SimFaultMix{1, 1, 1, 4, 1, 1});  // mostly garbage
    fs.PowerCut(cut);
    std::vector<uint64_t> seqs = SeqsIn(&fs);
    ASSERT_GE(seqs.size(), 2u) << "cut " << cut;
    EXPECT_EQ(seqs[0], 1u) << "cut " << cut;
    EXPECT_EQ(seqs[1], 2u) << "cut " << cut;
  }
}

// Whatever a crash left at the end of the file (a torn line, zeros, garbage, no newline), the
// next boot's entries start on a line of their own and read back.
TEST(DeadLetterFile, EntriesAppendedAfterATornTailReadBack) {
  for (uint64_t cut = 1; cut <= 200; cut++) {
    port::SimFileSystem fs(cut);
    {
      auto dlf = DeadLetterFile::Open(&fs, kPath);
      ASSERT_TRUE(dlf.ok()) << dlf.status().ToString();
      ASSERT_TRUE((*dlf)->Append(Entry(1)).ok());
      fs.CrashAfterOps(1);
      EXPECT_FALSE((*dlf)->Append(Entry(2)).ok());
    }
    fs.SetFaultMix(cut % 2 == 0 ? port::SimFaultMix() : port::SimFaultMix{0, 1, 3, 3, 1, 0});
    fs.PowerCut(cut);
    {
      auto dlf = DeadLetterFile::Open(&fs, kPath);
      ASSERT_TRUE(dlf.ok()) << dlf.status().ToString();
      ASSERT_TRUE((*dlf)->Append(Entry(3)).ok());
      ASSERT_TRUE((*dlf)->Append(Entry(4)).ok());
    }
    std::vector<uint64_t> seqs = SeqsIn(&fs);
    ASSERT_GE(seqs.size(), 3u) << "cut " << cut;
    EXPECT_EQ(seqs.front(), 1u) << "cut " << cut;
    EXPECT_EQ(seqs[seqs.size() - 2], 3u) << "cut " << cut;
    EXPECT_EQ(seqs.back(), 4u) << "cut " << cut;
  }
}

// Every entry in every file the live namespace holds under the dead-letter path (the file and
// whatever was moved aside), as seq -> how many times.
std::map<uint64_t, int> EntriesInAllFiles(port::SimFileSystem* fs) {
  std::map<uint64_t, int> seen;
  for (const std::string& name : fs->ListFiles()) {
    if (name.rfind(kPath, 0) != 0) continue;
    auto all = DeadLetterFile::ReadAll(fs, name);
    EXPECT_TRUE(all.ok()) << name << ": " << all.status().ToString();
    if (!all.ok()) continue;
    for (const DeadLetter& e : *all) {
      EXPECT_EQ(e.payload, Entry(e.seq).payload) << name << " seq " << e.seq;
      seen[e.seq]++;
    }
  }
  return seen;
}

// `edge-agent dead-letters requeue` asks the agent to move its file aside, then reads the
// moved file while the agent goes on appending: the moved file holds exactly what was there,
// later entries go to a new file, and no moved file is ever overwritten.
TEST(DeadLetterFile, MoveAsideHandsOverEveryEntryAndLaterAppendsGoToANewFile) {
  port::SimFileSystem fs;
  auto dlf = DeadLetterFile::Open(&fs, kPath);
  ASSERT_TRUE(dlf.ok()) << dlf.status().ToString();
  auto nothing = (*dlf)->MoveAside(1000);
  ASSERT_TRUE(nothing.ok()) << nothing.status().ToString();
  EXPECT_EQ(*nothing, "") << "an empty file is not moved";

  for (uint64_t seq = 1; seq <= 3; seq++) ASSERT_TRUE((*dlf)->Append(Entry(seq)).ok());
  auto moved = (*dlf)->MoveAside(1000);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(*moved, std::string(kPath) + ".requeue-1000");
  ASSERT_TRUE((*dlf)->Append(Entry(4)).ok());
  EXPECT_EQ(SeqsIn(&fs), std::vector<uint64_t>{4});
  auto first = DeadLetterFile::ReadAll(&fs, *moved);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->size(), 3u);
  EXPECT_EQ((*first)[2].payload, Entry(3).payload);

  auto again = (*dlf)->MoveAside(1000);  // the same millisecond
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, std::string(kPath) + ".requeue-1000-1");
  std::map<uint64_t, int> all = EntriesInAllFiles(&fs);
  EXPECT_EQ(all, (std::map<uint64_t, int>{{1, 1}, {2, 1}, {3, 1}, {4, 1}}));
}

// A power cut at any I/O of MoveAside, or of the append after it: after the reboot, every
// entry whose Append returned is in exactly one file (the live one or a moved one), and the
// agent opens its file again.
TEST(DeadLetterFile, APowerCutAnywhereInMoveAsideLosesNoEntryAndDuplicatesNone) {
  for (int64_t crash_at = 0; crash_at <= 8; crash_at++) {
    for (uint64_t cut = 1; cut <= 20; cut++) {
      port::SimFileSystem fs(cut);
      std::vector<uint64_t> returned;
      {
        auto dlf = DeadLetterFile::Open(&fs, kPath);
        ASSERT_TRUE(dlf.ok()) << dlf.status().ToString();
        for (uint64_t seq = 1; seq <= 2; seq++) {
          ASSERT_TRUE((*dlf)->Append(Entry(seq)).ok());
          returned.push_back(seq);
        }
        fs.CrashAfterOps(crash_at);
        (void)(*dlf)->MoveAside(5000);
        if ((*dlf)->Append(Entry(3)).ok()) returned.push_back(3);
      }
      fs.PowerCut(cut);
      std::map<uint64_t, int> seen = EntriesInAllFiles(&fs);
      for (uint64_t seq : returned) {
        EXPECT_EQ(seen[seq], 1) << "seq " << seq << ", crash at op " << crash_at << ", cut "
                                << cut;
      }
      for (const auto& [seq, n] : seen) EXPECT_EQ(n, 1) << "seq " << seq << " duplicated";
      auto reopened = DeadLetterFile::Open(&fs, kPath);
      ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
      ASSERT_TRUE((*reopened)->Append(Entry(4)).ok());
    }
  }
}

// The publisher appends while the control server moves the file aside, again and again: each
// entry lands in exactly one file.
TEST(DeadLetterFile, AppendsRacingMoveAsideLandInExactlyOneFile) {
  port::SimFileSystem fs;
  auto dlf = DeadLetterFile::Open(&fs, kPath);
  ASSERT_TRUE(dlf.ok()) << dlf.status().ToString();
  constexpr uint64_t kEntries = 300;
  std::atomic<bool> done{false};
  std::atomic<int> moves{0};
  std::atomic<bool> mover_failed{false};
  std::thread appender([&] {
    for (uint64_t seq = 1; seq <= kEntries; seq++) {
      // Appending is faster than moving: now and then let a move through, so the two really
      // overlap for the whole run rather than the appender finishing first. The count is read
      // before the append: the entry just appended keeps the file non-empty until some move
      // takes it, so a later move is certain to come. Read after the append, the move that
      // took it may already be counted, and with the file empty no further move ever comes.
      const int seen = moves.load();
      Status s = (*dlf)->Append(Entry(seq));
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (seq % 30 == 0) {
        while (moves.load() == seen && !mover_failed.load()) std::this_thread::yield();
      }
    }
    done = true;
  });
  for (uint64_t ms = 1; !done.load(); ms++) {
    auto moved = (*dlf)->MoveAside(ms);
    if (!moved.ok()) {
      ADD_FAILURE() << moved.status().ToString();
      mover_failed = true;
      break;
    }
    if (!moved->empty()) moves++;
    std::this_thread::yield();
  }
  appender.join();
  std::map<uint64_t, int> seen = EntriesInAllFiles(&fs);
  ASSERT_EQ(seen.size(), kEntries) << "after " << moves.load() << " moves";
  for (const auto& [seq, n] : seen) EXPECT_EQ(n, 1) << "seq " << seq;
  EXPECT_GE(moves.load(), static_cast<int>(kEntries / 30));
  EXPECT_EQ((*dlf)->entries_written(), kEntries);
}

}  // namespace
}  // namespace edge::publish
