// The dead-letter file keeps what the broker would not take, and the ring lets a record go once
// its entry is synced here: an entry, once Append returned, must survive every power cut, and
// entries written after a crash must be readable whatever the crash left at the end of the file.
#include "agent/publish/dead_letter_file.h"

#include <gtest/gtest.h>

#include <string>
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

}  // namespace
}  // namespace edge::publish
