// File::WriteGatherAt: the ring writes each batch's records straight from the producers'
// payloads, so a gathered write must put down exactly the bytes of the slices' concatenation,
// on the real file system (pwritev, IOV_MAX slices per call) and on the simulated one (where it
// must stay a single write, the unit the power-cut suites tear and crash at).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "port/file.h"
#include "port/sim_fs.h"

namespace edge::port {
namespace {

// Slices of many sizes, empty ones among them, over three times IOV_MAX in number.
struct Pieces {
  std::vector<std::string> parts;
  std::vector<ConstSlice> slices;
  std::string joined;
};

Pieces ManyPieces(size_t count) {
  Pieces p;
  p.parts.reserve(count);
  for (size_t i = 0; i < count; i++) {
    size_t n = (i % 7 == 3) ? 0 : (i * 37) % 301 + 1;
    std::string part(n, '\0');
    for (size_t k = 0; k < n; k++) part[k] = static_cast<char>((i * 131 + k * 7) & 0xff);
    p.parts.push_back(std::move(part));
  }
  for (const std::string& part : p.parts) {
    p.slices.push_back({part.data(), part.size()});
    p.joined += part;
  }
  return p;
}

std::string ReadBack(File& f, uint64_t offset, size_t n) {
  std::string out(n, '\0');
  Status s = f.ReadAt(offset, out.data(), n);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "edge-gather-XXXXXX";
    dir_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    if (!dir_.empty()) {
      ::unlink((dir_ + "/data").c_str());
      ::rmdir(dir_.c_str());
    }
  }
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
};

TEST(FileGather, PosixFileWritesTheConcatenationOfMoreSlicesThanOnePwritevTakes) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  auto f = FileSystem::Posix()->Create(dir.path() + "/data");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const std::string before(1000, 'x');
  ASSERT_TRUE((*f)->WriteAt(0, before.data(), before.size()).ok());

  Pieces p = ManyPieces(3 * 1024 + 17);
  ASSERT_TRUE((*f)->WriteGatherAt(512, p.slices.data(), p.slices.size()).ok());
  ASSERT_TRUE((*f)->Sync().ok());

  EXPECT_EQ(ReadBack(**f, 0, 512), before.substr(0, 512));  // untouched before the offset
  EXPECT_EQ(ReadBack(**f, 512, p.joined.size()), p.joined);
  auto size = (*f)->Size();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 512 + p.joined.size());
}

TEST(FileGather, PosixFileAcceptsOnlyEmptySlicesAndNone) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  auto f = FileSystem::Posix()->Create(dir.path() + "/data");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const ConstSlice empty[] = {{"", 0}, {nullptr, 0}};
  EXPECT_TRUE((*f)->WriteGatherAt(0, empty, 2).ok());
  EXPECT_TRUE((*f)->WriteGatherAt(0, nullptr, 0).ok());
  EXPECT_EQ(*(*f)->Size(), 0u);
}

TEST(FileGather, PosixFileReportsAWriteOnAReadOnlyHandle) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  { ASSERT_TRUE(FileSystem::Posix()->Create(dir.path() + "/data").ok()); }
  auto f = FileSystem::Posix()->Open(dir.path() + "/data", Access::kReadOnly);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const ConstSlice one[] = {{"abc", 3}};
  Status s = (*f)->WriteGatherAt(0, one, 1);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(dir.path() + "/data"), std::string::npos) << s.ToString();
}

TEST(FileGather, SimulatedFileTakesAGatheredWriteAsOneWriteOfTheSameBytes) {
  SimFileSystem fs(3);
  auto f = fs.Create("/ring/data");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  int writes = 0;
  fs.SetMutationObserver([&](const SimMutation& m, const SimFrozenView&) {
    if (m.kind == SimMutation::Kind::kWrite) writes++;
  });
  Pieces p = ManyPieces(2500);
  ASSERT_TRUE((*f)->WriteGatherAt(4096, p.slices.data(), p.slices.size()).ok());
  EXPECT_EQ(writes, 1);
  EXPECT_EQ(ReadBack(**f, 4096, p.joined.size()), p.joined);
}

}  // namespace
}  // namespace edge::port
