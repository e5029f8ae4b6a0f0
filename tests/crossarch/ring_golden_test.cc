// Rings written on one architecture read on another (tests/crossarch/golden_ring.h): the
// checked-in images from amd64, arm64 and armhf are read here, on whatever this build targets
// (natively, or under qemu in the cross builds), and continued with new appends.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "agent/ring/ring_store.h"
#include "tests/crossarch/golden_ring.h"

namespace edge::crossarch {
namespace {

const char* const kArchitectures[] = {"x86_64", "aarch64", "armhf"};

std::string GoldenPath(const std::string& arch) {
  return std::string(EDGE_GOLDEN_RING_DIR) + "/golden-" + arch + ".ring";
}

class CrossArchRing : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/edge-crossarch-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) (void)std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  // A private copy: opening a ring read-write starts a new epoch, which writes to the file.
  std::string CopyOf(const std::string& from, const std::string& name) {
    std::ifstream in(from, std::ios::binary);
    EXPECT_TRUE(in.good()) << from << ": missing (scripts/make-golden-rings.sh makes it)";
    std::string to = dir_ + "/" + name;
    std::ofstream out(to, std::ios::binary);
    out << in.rdbuf();
    return to;
  }
  std::string dir_;
  port::FileSystem* fs_ = port::FileSystem::Posix();
};

TEST_F(CrossArchRing, ReadsTheGoldenImageOfEveryArchitectureRecordForRecord) {
  for (const char* arch : kArchitectures) {
    SCOPED_TRACE(arch);
    RingState state;
    Status s = VerifyGoldenImage(fs_, CopyOf(GoldenPath(arch), arch), &state);
    EXPECT_TRUE(s.ok()) << s.ToString();
    // The workload must have exercised what it claims to: a wrap that dropped records, and
    // more than one boot.
    EXPECT_GT(state.dropped_total, 0u) << state.Describe();
    EXPECT_FALSE(state.gaps.empty()) << state.Describe();
    EXPECT_EQ(state.epoch, 3u) << state.Describe();
    EXPECT_GT(state.next_seq - state.head_seq, 10u) << state.Describe();
  }
}

TEST_F(CrossArchRing, WritesTheSameBytesAsTheGoldenImages) {
  std::string path = dir_ + "/here.ring";
  Status s = WriteGoldenRing(fs_, path);
  ASSERT_TRUE(s.ok()) << s.ToString();
  RingState state;
  s = VerifyGoldenImage(fs_, path, &state);
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(CrossArchRing, ContinuesARingWrittenOnAnotherArchitecture) {
  for (const char* arch : kArchitectures) {
    SCOPED_TRACE(arch);
    std::string path = CopyOf(GoldenPath(arch), arch);
    RingState before;
    ASSERT_TRUE(ReadAndCheckRing(fs_, path, &before).ok());
    {
      auto store = ring::RingStore::Open(fs_, path, GoldenRingOptions());
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      uint64_t first = (*store)->next_seq();
      ASSERT_EQ(first, before.next_seq);
      std::vector<std::string> payloads;
      for (uint64_t seq = first; seq < first + 5; seq++) {
        payloads.push_back(GoldenPayload(seq, (*store)->geometry().max_payload_bytes()));
      }
      std::vector<std::string_view> views(payloads.begin(), payloads.end());
      std::vector<Result<uint64_t>> results;
      ASSERT_TRUE((*store)->AppendBatch(views, &results).ok());
      ASSERT_TRUE(results.back().ok());
      EXPECT_EQ(*results.back(), first + 4);
    }
    RingState after;
    Status s = ReadAndCheckRing(fs_, path, &after);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(after.next_seq, before.next_seq + 5);
    EXPECT_EQ(after.epoch, before.epoch + 1);
    // The golden ring is full under drop_oldest: the new records may push out the oldest
    // segment, and every record that left without an acknowledgement is counted as dropped.
    EXPECT_GE(after.head_seq, before.head_seq);
    EXPECT_EQ(after.dropped_total - before.dropped_total, after.head_seq - before.head_seq);
  }
}

// The ring file is addressed with 64-bit offsets everywhere, including 32-bit armhf: a write
// and read past 4 GiB (sparse, so it costs no disk) must land where asked, not wrap to 0.
TEST_F(CrossArchRing, FileOffsetsBeyondFourGiBDoNotWrap) {
  const uint64_t far = (5ull << 30) + 12345;
  const std::string path = dir_ + "/sparse";
  {
    auto file = fs_->Create(path);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    ASSERT_TRUE((*file)->WriteAt(0, "near", 4).ok());
    Status s = (*file)->WriteAt(far, "far!", 4);
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto size = (*file)->Size();
    ASSERT_TRUE(size.ok());
    EXPECT_EQ(*size, far + 4);
  }
  auto file = fs_->Open(path, port::Access::kReadOnly);
  ASSERT_TRUE(file.ok());
  char near_bytes[4], far_bytes[4];
  ASSERT_TRUE((*file)->ReadAt(0, near_bytes, 4).ok());
  ASSERT_TRUE((*file)->ReadAt(far, far_bytes, 4).ok());
  EXPECT_EQ(std::string(near_bytes, 4), "near");  // the far write did not wrap onto offset 0
  EXPECT_EQ(std::string(far_bytes, 4), "far!");
}

}  // namespace
}  // namespace edge::crossarch
