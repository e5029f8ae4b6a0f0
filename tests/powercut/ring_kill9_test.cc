// kill -9 on real files: a child process appends to the threaded Ring from several threads and
// tells the parent, through a pipe, every seq it got a durable receipt for; the parent SIGKILLs
// it at a random moment, reopens the ring and checks that every reported, unacknowledged record
// is there with its payload, then starts the next child on the same file. A kill does not lose
// the page cache, so this checks the process side of durability (what is reported when, what
// recovery accepts), on the real POSIX file system, with real threads and group commit.
//
// Ends with one line on stdout: kill9: kills=N acked_lost=0 corrupt=0
// EDGE_KILL9_KILLS sets the number of kills (default 60).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "agent/ring/ring.h"
#include "agent/ring/ring_store.h"
#include "port/file.h"
#include "tests/support/reliability_line.h"

namespace edge::ring {
namespace {

constexpr int kProducerThreads = 4;

uint64_t Mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Self-checking payloads: 8 bytes of key, then bytes derived from the key and the size, so the
// parent can verify any record, reported or not, without having seen it.
std::string MakePayload(uint64_t key, size_t size) {
  std::string p(size + 8, '\0');
  std::memcpy(&p[0], &key, 8);
  uint64_t h = Mix(key ^ (uint64_t{size} << 48));
  for (size_t i = 8; i < p.size(); i += 8) {
    h = Mix(h);
    std::memcpy(&p[i], &h, std::min<size_t>(8, p.size() - i));
  }
  return p;
}

bool PayloadIsIntact(const std::string& p, uint64_t* key) {
  if (p.size() < 8) return false;
  std::memcpy(key, p.data(), 8);
  return MakePayload(*key, p.size() - 8) == p;
}

RingOptions Options() {
  RingOptions o;
  o.file_bytes = 1 << 20;
  o.segment_bytes = 16384;
  o.full_policy = FullPolicy::kReject;
  return o;
}

void WriteLine(int fd, const std::string& line) {
  // Lines are far below PIPE_BUF, so each write is atomic among the child's threads.
  ssize_t n = ::write(fd, line.data(), line.size());
  (void)n;
}

// The child: never returns.
[[noreturn]] void RunChild(const std::string& path, int fd, uint64_t round) {
  auto opened = Ring::Open(port::FileSystem::Posix(), path, Options());
  if (!opened.ok()) {
    WriteLine(fd, "E " + opened.status().ToString() + "\n");
    ::_exit(2);
  }
  Ring* ring = opened->get();
  WriteLine(fd, "R\n");
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kProducerThreads; t++) {
    threads.emplace_back([&, t] {
      for (uint64_t n = 0; !stop; n++) {
        uint64_t key = (round << 40) | (uint64_t(t) << 32) | n;
        std::string payload = MakePayload(key, Mix(key) % 1500);
        Result<uint64_t> r = ring->Append(payload);
        if (r.ok()) {
          WriteLine(fd, "D " + std::to_string(r.value()) + " " + std::to_string(key) + "\n");
        } else if (r.status().code() == Code::kRingFull) {
          std::this_thread::sleep_for(std::chrono::microseconds(300));
        } else {
          WriteLine(fd, "E " + r.status().ToString() + "\n");
          ::_exit(3);
        }
      }
    });
  }
  // The publisher: confirm all but the newest few dozen records now and then. The intent is
  // sent before Acknowledge, so the parent never expects a record the child may have freed.
  RingStore::ReadBuffer read_ahead;
  for (uint64_t i = 0;; i++) {
    std::this_thread::sleep_for(std::chrono::microseconds(500 + Mix(round + i) % 1500));
    RingStore& store = ring->store();
    uint64_t next = store.next_seq();
    Position pos = store.head();
    if (next < pos.seq + 40) continue;
    uint64_t target = next - 20 - Mix(i) % 20;
    while (pos.seq < target) {
      Record rec;
      if (!store.Read(pos, &rec, &read_ahead).ok()) {
        WriteLine(fd, "E read of seq " + std::to_string(pos.seq) + " failed\n");
        ::_exit(4);
      }
      pos = rec.next;
    }
    WriteLine(fd, "A " + std::to_string(pos.seq) + "\n");
    (void)store.Acknowledge(pos);
  }
}

struct Totals {
  int kills = 0;
  uint64_t acked_lost = 0;
  uint64_t corrupt = 0;
  uint64_t reused_seq = 0;
  std::vector<std::string> problems;
  void Problem(uint64_t Totals::*counter, const std::string& what) {
    this->*counter += 1;
    if (problems.size() < 10) problems.push_back(what);
  }
};

bool UnderQemu() { return std::getenv("EDGE_UNDER_QEMU") != nullptr; }

int KillCount() {
  if (const char* v = std::getenv("EDGE_KILL9_KILLS")) return std::max(1, std::atoi(v));
  return 60;
}

TEST(RingKill9, KeepsEveryReportedRecordWhenTheWriterIsKilledAtRandomMoments) {
  const char* base = std::getenv("TMPDIR");
  std::string dir_template = std::string(base != nullptr ? base : "/tmp") + "/edge-kill9-XXXXXX";
  std::vector<char> buf(dir_template.begin(), dir_template.end());
  buf.push_back('\0');
  ASSERT_NE(::mkdtemp(buf.data()), nullptr) << std::strerror(errno);
  const std::string dir = buf.data();
  const std::string path = dir + "/ring";

  Totals totals;
  std::map<uint64_t, uint64_t> reported;  // seq -> payload key, over all rounds
  uint64_t acked_below = 0;
  uint64_t floor_seq = 1;  // every seq a new child reports must be at least this
  const int kills = KillCount();
  for (int round = 1; round <= kills; round++) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      RunChild(path, fds[1], static_cast<uint64_t>(round));
    }
    ::close(fds[1]);

    // Kill at a random moment: mostly while appending, sometimes during open and recovery.
    // The window opens when the child is ready ("R"). Under qemu a child's first appends run
    // through the translator and take longer than the whole window, so there it opens at the
    // child's first receipt ("D"): the kill still lands while appending, never before it.
    const char* const ready_marker = UnderQemu() ? "D " : "R\n";
    const uint64_t r = Mix(static_cast<uint64_t>(round) * 7919);
    const bool during_open = r % 8 == 0;
    const auto delay = std::chrono::microseconds(during_open ? r / 8 % 3000 : 1000 + r / 8 % 30000);
    auto kill_at = std::chrono::steady_clock::now() + delay;
    bool ready = during_open;
    bool killed = false;
    std::string text;
    for (;;) {
      auto now = std::chrono::steady_clock::now();
      if (ready && !killed && now >= kill_at) {
        ::kill(pid, SIGKILL);
        killed = true;
      }
      int timeout_ms = killed ? 1000 : 1;
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) > 0) {
        char chunk[4096];
        ssize_t n = ::read(fds[0], chunk, sizeof(chunk));
        if (n <= 0) break;  // EOF: the child is gone
        text.append(chunk, static_cast<size_t>(n));
        if (!ready && text.find(ready_marker) != std::string::npos) {
          ready = true;
          kill_at = std::chrono::steady_clock::now() + delay;
        }
      }
      if (!killed && now - kill_at > std::chrono::seconds(20)) {
        ::kill(pid, SIGKILL);  // the child never became ready: a finding below
        killed = true;
      }
    }
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
      totals.Problem(&Totals::corrupt, "round " + std::to_string(round) +
                                           ": the child exited by itself (status " +
                                           std::to_string(status) + ")");
    }

    // Parse the child's reports: complete lines only (a kill cannot split a line).
    size_t start = 0;
    uint64_t round_reports = 0;
    while (true) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) break;
      std::string line = text.substr(start, end - start);
      start = end + 1;
      unsigned long long a = 0, b = 0;
      if (std::sscanf(line.c_str(), "D %llu %llu", &a, &b) == 2) {
        round_reports++;
        if (a < floor_seq) {
          totals.Problem(&Totals::reused_seq, "round " + std::to_string(round) + ": seq " +
                                                  std::to_string(a) +
                                                  " reported again (the "
                                                  "ring had already reached " +
                                                  std::to_string(floor_seq) + ")");
        }
        auto [it, inserted] = reported.emplace(a, b);
        if (!inserted && it->second != b) {
          totals.Problem(&Totals::reused_seq, "seq " + std::to_string(a) + " reported twice");
        }
      } else if (std::sscanf(line.c_str(), "A %llu", &a) == 1) {
        acked_below = std::max<uint64_t>(acked_below, a);
      } else if (line.rfind("E ", 0) == 0) {
        totals.Problem(&Totals::corrupt, "round " + std::to_string(round) + ": child: " + line);
      }
    }

    // Reopen like the next start of the agent would, and check.
    auto store = RingStore::Open(port::FileSystem::Posix(), path, Options());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    if (!(*store)->recovery().damage.empty()) {
      totals.Problem(&Totals::corrupt, "round " + std::to_string(round) +
                                           ": recovery: " + (*store)->recovery().Summary());
    }
    std::map<uint64_t, bool> found;
    Position pos = (*store)->head();
    while (pos.seq < (*store)->next_seq()) {
      Record rec;
      Status s = (*store)->Read(pos, &rec);
      if (!s.ok()) {
        totals.Problem(&Totals::corrupt, "round " + std::to_string(round) + ": " + s.ToString());
        break;
      }
      uint64_t key = 0;
      auto it = reported.find(rec.seq);
      if (!PayloadIsIntact(rec.payload, &key) || (it != reported.end() && it->second != key)) {
        totals.Problem(&Totals::corrupt, "round " + std::to_string(round) + ": seq " +
                                             std::to_string(rec.seq) + " has a wrong payload");
      }
      found[rec.seq] = true;
      pos = rec.next;
    }
    for (auto it = reported.lower_bound(acked_below); it != reported.end(); ++it) {
      if (found.count(it->first) == 0) {
        totals.Problem(&Totals::acked_lost, "round " + std::to_string(round) + ": seq " +
                                                std::to_string(it->first) +
                                                " was reported durable and is missing");
      }
    }
    uint64_t max_reported = reported.empty() ? 0 : reported.rbegin()->first;
    if ((*store)->next_seq() <= max_reported) {
      totals.Problem(&Totals::reused_seq, "next_seq " + std::to_string((*store)->next_seq()) +
                                              " is not above reported seq " +
                                              std::to_string(max_reported));
    }
    floor_seq = (*store)->next_seq();
    // The parent's open bumped the epoch; the store closes before the next child starts.
    totals.kills++;
    if (round_reports == 0 && !during_open) {
      std::fprintf(stderr, "kill9: round %d: no receipt before the kill\n", round);
    }
  }

  std::printf("kill9: kills=%d acked_lost=%llu corrupt=%llu\n", totals.kills,
              static_cast<unsigned long long>(totals.acked_lost),
              static_cast<unsigned long long>(totals.corrupt));
  std::fflush(stdout);
  std::fprintf(stderr, "kill9: %zu seqs reported over all rounds\n", reported.size());
  test::PrintReliabilityLine({.suite = "ring-kill9",
                              .family = "powercut",
                              .count = static_cast<uint64_t>(totals.kills),
                              .records = reported.size(),
                              .lost = totals.acked_lost + totals.corrupt,
                              .duplicates = 0,
                              .injects = "process appending to the ring killed with kill -9 at "
                                         "random moments (also during open), real files",
                              .reproduce = "EDGE_KILL9_KILLS=60 ctest -R RingKill9"});
  for (const std::string& p : totals.problems) ADD_FAILURE() << p;
  EXPECT_EQ(totals.acked_lost, 0u);
  EXPECT_EQ(totals.corrupt, 0u);
  EXPECT_EQ(totals.reused_seq, 0u);
  EXPECT_GT(reported.size(), static_cast<size_t>(kills)) << "the children hardly appended";

  ::unlink(path.c_str());
  ::unlink((path + ".lock").c_str());
  ::unlink((path + ".creating").c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace edge::ring
