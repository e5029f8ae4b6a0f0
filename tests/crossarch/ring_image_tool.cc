// ring_image_tool: writes and verifies golden ring images (tests/crossarch/golden_ring.h), one
// architecture at a time. Built natively and with each cross compiler; the cross-built copies
// run under qemu user mode (single-threaded: see golden_ring.h).
//
//   ring_image_tool write PATH          run the golden workload into a new ring file PATH
//   ring_image_tool verify PATH...      check each image: every record, state, bytes
//   ring_image_tool arch                print the architecture this copy was built for
//   ring_image_tool churn PATH N        the ring's per-record work, N times: append 200-byte
//                                       records in batches of 32, read each back, acknowledge,
//                                       checkpoint every 1024 records (a new 4 MiB ring at PATH).
//                                       For instruction counts per record on each architecture
//                                       (scripts/bench-footprint.sh: callgrind natively, qemu's
//                                       exec trace for arm): run twice, subtract.
//
// Exit status: 0 all good, 1 an image failed its check, 2 usage or I/O error.
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "agent/ring/ring_store.h"
#include "tests/crossarch/golden_ring.h"

namespace {

const char* Arch() {
#if defined(__x86_64__)
  return "x86_64";
#elif defined(__aarch64__)
  return "aarch64";
#elif defined(__arm__)
  return "armhf";
#else
  return "unknown";
#endif
}

int Churn(const std::string& path, uint64_t n) {
  edge::ring::RingOptions o;
  o.file_bytes = 4ull << 20;
  auto store = edge::ring::RingStore::Open(edge::port::FileSystem::Posix(), path, o);
  if (!store.ok()) {
    std::fprintf(stderr, "ring_image_tool: churn: %s\n", store.status().ToString().c_str());
    return 2;
  }
  const std::string payload(200, 'c');
  std::vector<std::string_view> batch(32, payload);
  std::vector<edge::Result<uint64_t>> results;
  edge::ring::Position pos = (*store)->head();
  for (uint64_t done = 0; done < n; done += batch.size()) {
    edge::Status s = (*store)->AppendBatch(batch, &results);
    while (s.ok() && pos.seq < (*store)->next_seq()) {
      edge::ring::Record rec;
      s = (*store)->Read(pos, &rec);
      if (s.ok()) pos = rec.next;
    }
    if (s.ok()) s = (*store)->Acknowledge(pos);
    if (s.ok() && (done / batch.size()) % 32 == 31) s = (*store)->Checkpoint();
    if (!s.ok()) {
      std::fprintf(stderr, "ring_image_tool: churn: %s\n", s.ToString().c_str());
      return 2;
    }
  }
  std::printf("churn: %llu records through %s on %s\n", static_cast<unsigned long long>(n),
              path.c_str(), Arch());
  return 0;
}

int Usage() {
  std::fputs(
      "usage: ring_image_tool write PATH\n"
      "       ring_image_tool verify PATH...\n"
      "       ring_image_tool arch\n"
      "       ring_image_tool churn PATH N\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string verb = argv[1];
  edge::port::FileSystem* fs = edge::port::FileSystem::Posix();
  if (verb == "arch" && argc == 2) {
    std::printf("%s\n", Arch());
    return 0;
  }
  if (verb == "churn" && argc == 4) {
    (void)fs->Remove(argv[2]);
    return Churn(argv[2], std::stoull(argv[3]));
  }
  if (verb == "write" && argc == 3) {
    edge::Status s = edge::crossarch::WriteGoldenRing(fs, argv[2]);
    if (!s.ok()) {
      std::fprintf(stderr, "ring_image_tool (%s): write %s: %s\n", Arch(), argv[2],
                   s.ToString().c_str());
      return 2;
    }
    std::printf("%s: written on %s\n", argv[2], Arch());
    return 0;
  }
  if (verb == "verify" && argc >= 3) {
    int rc = 0;
    for (int i = 2; i < argc; i++) {
      edge::crossarch::RingState state;
      edge::Status s = edge::crossarch::VerifyGoldenImage(fs, argv[i], &state);
      if (s.ok()) {
        std::printf("%s: ok on %s: %s\n", argv[i], Arch(), state.Describe().c_str());
      } else {
        std::printf("%s: FAILED on %s: %s\n", argv[i], Arch(), s.ToString().c_str());
        rc = 1;
      }
    }
    return rc;
  }
  return Usage();
}
