// recovery_bench: how long the agent's start-up recovery takes on a full ring (issue 6 target:
// at most 1 s for 1 GiB). Fills a ring of --ring-mb with --payload-byte records through
// RingStore::AppendBatch until it is full (reject policy: nothing is dropped, every record is
// unacknowledged), then times RingStore::Open, the call `edge-agent run` makes at start: read
// the meta slots, walk and check (magic, seq, epoch, CRC32C) every record from the head, start
// a new epoch. Each open is timed twice:
//   warm  the file in the page cache (a restart of the agent, or a quick reboot)
//   cold  the file's pages dropped first with posix_fadvise(DONTNEED) (File::DropCache); the
//         ring's pages are clean, so the kernel drops them all and the scan reads the device.
//         drop_caches is not writable in this container, and the VM's host may still cache the
//         virtual disk, so "cold" here is a lower bound for a real SD card.
// Prints one line per open and medians; never fails on a timing.
//
//   recovery_bench [--dir DIR] [--ring-mb 1024] [--payload 200] [--rounds 3] [--keep]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "agent/ring/ring_store.h"
#include "port/file.h"

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/var/tmp";
  uint64_t ring_mb = 1024;
  size_t payload_bytes = 200;
  int rounds = 3;
  bool keep = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "recovery_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dir") {
      dir = next();
    } else if (a == "--ring-mb") {
      ring_mb = std::stoull(next());
    } else if (a == "--payload") {
      payload_bytes = std::stoul(next());
    } else if (a == "--rounds") {
      rounds = std::stoi(next());
    } else if (a == "--keep") {
      keep = true;
    } else {
      std::fprintf(stderr,
                   "usage: recovery_bench [--dir DIR] [--ring-mb N] [--payload BYTES] "
                   "[--rounds R] [--keep]\n");
      return 2;
    }
  }
  edge::port::FileSystem* fs = edge::port::FileSystem::Posix();
  const std::string path = dir + "/recovery_bench.ring";
  (void)fs->Remove(path);
  edge::ring::RingOptions options;
  options.file_bytes = ring_mb << 20;
  options.full_policy = edge::ring::FullPolicy::kReject;

  // Fill.
  auto t0 = Clock::now();
  uint64_t records = 0;
  {
    auto store = edge::ring::RingStore::Open(fs, path, options);
    if (!store.ok()) {
      std::fprintf(stderr, "recovery_bench: %s\n", store.status().ToString().c_str());
      return 1;
    }
    std::string payload(payload_bytes, 'x');
    std::vector<std::string_view> batch(1024, payload);
    std::vector<edge::Result<uint64_t>> results;
    bool full = false;
    while (!full) {
      edge::Status s = (*store)->AppendBatch(batch, &results);
      if (!s.ok()) {
        std::fprintf(stderr, "recovery_bench: fill: %s\n", s.ToString().c_str());
        return 1;
      }
      for (const auto& r : results) {
        if (r.ok()) {
          records++;
        } else {
          full = true;
        }
      }
    }
    edge::Status s = (*store)->Checkpoint();
    if (!s.ok()) {
      std::fprintf(stderr, "recovery_bench: checkpoint: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  double fill_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("recovery_bench: ring %s, %llu MiB, %llu records of %zu bytes (full), filled in "
              "%.1f s\n",
              path.c_str(), static_cast<unsigned long long>(ring_mb),
              static_cast<unsigned long long>(records), payload_bytes, fill_s);

  std::vector<double> warm, cold;
  for (int round = 0; round < rounds; round++) {
    for (bool drop : {false, true}) {
      if (drop) {
        auto f = fs->Open(path, edge::port::Access::kReadOnly);
        if (!f.ok() || !(*f)->DropCache().ok()) {
          std::fprintf(stderr, "recovery_bench: could not drop the file's cached pages\n");
          return 1;
        }
      }
      auto start = Clock::now();
      auto store = edge::ring::RingStore::Open(fs, path, options);
      double s = std::chrono::duration<double>(Clock::now() - start).count();
      if (!store.ok()) {
        std::fprintf(stderr, "recovery_bench: open: %s\n", store.status().ToString().c_str());
        return 1;
      }
      const edge::ring::RecoveryReport& r = (*store)->recovery();
      if (r.records != records || !r.damage.empty()) {
        std::fprintf(stderr, "recovery_bench: recovered %llu records, expected %llu: %s\n",
                     static_cast<unsigned long long>(r.records),
                     static_cast<unsigned long long>(records), r.Summary().c_str());
        return 1;
      }
      std::printf("  round %d %-4s open+recover %.3f s  (%llu records checked, %.1f M/s)\n",
                  round + 1, drop ? "cold" : "warm", s,
                  static_cast<unsigned long long>(r.records), r.records / s / 1e6);
      (drop ? cold : warm).push_back(s);
    }
  }
  std::printf("recovery: warm median %.3f s, cold median %.3f s (target <= 1 s: ratio %.2f / "
              "%.2f)\n",
              Median(warm), Median(cold), Median(warm) / 1.0, Median(cold) / 1.0);
  if (!keep) (void)fs->Remove(path);
  return 0;
}
