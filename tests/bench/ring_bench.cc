// ring_bench: durable appends per second, receipt latency and write amplification of the ring,
// next to the raw limit of the same disk measured in the same run.
//
// For each payload size and producer count, producers call Ring::Append (blocking until the
// payload is durable) for a fixed time while an acknowledger thread reads and acknowledges
// records, as the publisher would, so the ring wraps and reuses segments as in the field.
// The raw limit replays exactly the batches the ring formed (same count, same payload bytes
// per batch) as plain pwrite + fdatasync at sequential offsets of a preallocated, zero-filled
// file on the same file system: what the disk allows for durably storing those payloads with
// that batching and no framing, headers, checksums or threads.
//
// Two producer models. "threads": N threads each blocking in Ring::Append (N programs linking
// the ring). "async": N logical producers, each with one append outstanding, resubmitted from
// the completion callback, as the intake server's single event loop drives the ring for N
// socket clients. The second is how the daemon runs; the first also measures 2 cores
// scheduling N threads.
//
// A benchmark, not a test: it prints figures and ratios and never fails on a timing.
// The machine may be shared and noisy, so each case alternates ring and raw phases over several
// rounds and reports medians: a burst of outside load then hits both sides alike.
//   ring_bench [--dir DIR] [--seconds S] [--rounds R] [--sizes 200,4096] [--producers 1,8,64]
//              [--ring-mb N] [--max-batch-kb N]
// --max-batch-kb sets RingOptions::max_batch_bytes (ring.max_batch_bytes, default 1024): compare
// appends/s across runs to see what smaller batches (fewer bytes per fdatasync) cost.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/ring/ring.h"

namespace {

using Clock = std::chrono::steady_clock;
using edge::ring::Ring;
using edge::ring::RingOptions;

struct Options {
  std::string dir = ".";
  double seconds = 1.0;
  int rounds = 5;
  std::vector<size_t> sizes = {200, 4096};
  std::vector<int> producers = {1, 8, 64};
  uint64_t ring_mb = 256;
  uint64_t max_batch_kb = RingOptions{}.max_batch_bytes >> 10;
  bool keep = false;  // leave the last ring file in place (for `edge-agent ring stats`)
  std::vector<std::string> models = {"threads", "async"};
};

std::vector<uint64_t> ParseList(const std::string& s) {
  std::vector<uint64_t> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    out.push_back(std::stoull(s.substr(start, comma - start)));
    start = comma + 1;
  }
  return out;
}

struct Batch {
  size_t records;
  uint64_t payload_bytes;
};

struct CaseResult {
  double appends_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  uint64_t batches = 0;
  double avg_batch = 0;
  double write_amp = 0;
  double raw_appends_per_s = 0;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

// Plain pwrite + fdatasync of the same batches: the physical limit for this batching.
double RawLimit(const std::string& dir, uint64_t file_bytes, const std::vector<Batch>& batches) {
  std::string path = dir + "/ring_bench.raw";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::perror("open raw file");
    return 0;
  }
  std::vector<char> buf(1 << 20, 0);
  for (uint64_t off = 0; off < file_bytes; off += buf.size()) {
    if (::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(off)) < 0) std::perror("pwrite");
  }
  if (::fsync(fd) != 0) std::perror("fsync");
  uint64_t max_batch = 0;
  for (const Batch& b : batches) max_batch = std::max(max_batch, b.payload_bytes);
  std::vector<char> data(max_batch + 1, 'x');
  uint64_t off = 0;
  uint64_t records = 0;
  auto t0 = Clock::now();
  for (const Batch& b : batches) {
    if (off + b.payload_bytes > file_bytes) off = 0;
    if (::pwrite(fd, data.data(), b.payload_bytes, static_cast<off_t>(off)) < 0) {
      std::perror("pwrite");
    }
    if (::fdatasync(fd) != 0) std::perror("fdatasync");
    off += b.payload_bytes;
    records += b.records;
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  ::close(fd);
  ::unlink(path.c_str());
  return secs > 0 ? static_cast<double>(records) / secs : 0;
}

CaseResult RunCase(const Options& opt, size_t size, int producers, bool async) {
  CaseResult r;
  std::string path = opt.dir + "/ring_bench.ring";
  ::unlink(path.c_str());
  RingOptions ro;
  ro.file_bytes = opt.ring_mb << 20;
  ro.max_batch_bytes = opt.max_batch_kb << 10;
  auto opened = Ring::Open(edge::port::FileSystem::Posix(), path, ro);
  if (!opened.ok()) {
    std::fprintf(stderr, "ring_bench: %s\n", opened.status().ToString().c_str());
    std::exit(1);
  }
  std::unique_ptr<Ring> ring = std::move(opened).value();
  std::mutex batches_mu;  // guards batches
  std::vector<Batch> batches;
  ring->SetBatchObserver([&](const Ring::BatchInfo& b) {
    if (b.records == 0) return;
    std::lock_guard<std::mutex> l(batches_mu);
    batches.push_back(Batch{b.records, b.payload_bytes});
  });

  std::atomic<bool> stop{false};
  // The acknowledger: reads what is durable and acknowledges it, like a publisher whose
  // broker confirms at once, so the ring keeps wrapping.
  std::thread acker([&] {
    edge::ring::RingStore& store = ring->store();
    edge::ring::Position pos = store.head();
    edge::ring::RingStore::ReadBuffer rb;
    while (!stop.load()) {
      if (pos.seq >= store.next_seq()) {
        ring->WaitForDurable(pos.seq, 50);
        continue;
      }
      edge::ring::Record rec;
      if (!store.Read(pos, &rec, &rb).ok()) {
        pos = store.head();
        continue;
      }
      pos = rec.next;
      if (rec.seq % 64 == 0) (void)store.Acknowledge(pos);
    }
  });

  std::vector<std::vector<double>> lat(static_cast<size_t>(producers));
  std::vector<std::thread> threads;
  std::atomic<uint64_t> failed{0};
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(opt.seconds);
  std::mutex done_mu;  // guards outstanding
  std::condition_variable done_cv;
  int outstanding = producers;
  std::string async_payload(size, 'a');
  std::function<void()> submit;
  if (async) {
    // Completions run on the ring's writer thread, one at a time: lat[0] needs no lock.
    submit = [&] {
      auto t0 = Clock::now();
      ring->AppendAsync(async_payload, [&, t0](edge::Result<uint64_t> appended) {
        auto t1 = Clock::now();
        if (appended.ok()) {
          lat[0].push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        } else {
          failed++;
        }
        if (t1 < deadline) {
          submit();
          return;
        }
        std::lock_guard<std::mutex> l(done_mu);
        if (--outstanding == 0) done_cv.notify_all();
      });
    };
    for (int t = 0; t < producers; t++) submit();
    std::unique_lock<std::mutex> l(done_mu);
    done_cv.wait(l, [&] { return outstanding == 0; });
  }
  for (int t = 0; t < producers && !async; t++) {
    threads.emplace_back([&, t] {
      std::string payload(size, static_cast<char>('a' + t % 26));
      auto& mine = lat[static_cast<size_t>(t)];
      while (Clock::now() < deadline) {
        auto t0 = Clock::now();
        auto res = ring->Append(payload);
        auto t1 = Clock::now();
        if (!res.ok()) {
          failed++;
          continue;
        }
        mine.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
    });
  }
  for (auto& th : threads) th.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  acker.join();
  edge::ring::RingStats st = ring->store().stats();
  (void)ring->Close();
  ring.reset();

  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  r.appends_per_s = static_cast<double>(all.size()) / secs;
  r.p50_us = Percentile(all, 0.50);
  r.p99_us = Percentile(all, 0.99);
  r.batches = st.batches;
  r.avg_batch = st.batches ? static_cast<double>(st.appended_records) / st.batches : 0;
  r.write_amp = st.appended_payload_bytes
                    ? static_cast<double>(st.written_bytes) / st.appended_payload_bytes
                    : 0;
  if (failed.load() > 0) {
    std::fprintf(stderr, "ring_bench: %llu appends failed (ring full?)\n",
                 static_cast<unsigned long long>(failed.load()));
  }
  r.raw_appends_per_s = RawLimit(opt.dir, ro.file_bytes, batches);
  if (!opt.keep) {
    ::unlink(path.c_str());
    ::unlink((path + ".lock").c_str());
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "ring_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--dir") {
      opt.dir = next();
    } else if (a == "--seconds") {
      opt.seconds = std::stod(next());
    } else if (a == "--rounds") {
      opt.rounds = std::stoi(next());
    } else if (a == "--sizes") {
      opt.sizes.clear();
      for (uint64_t v : ParseList(next())) opt.sizes.push_back(v);
    } else if (a == "--producers") {
      opt.producers.clear();
      for (uint64_t v : ParseList(next())) opt.producers.push_back(static_cast<int>(v));
    } else if (a == "--models") {
      opt.models.clear();
      std::string v = next();
      size_t st = 0;
      while (st <= v.size()) {
        size_t c = v.find(',', st);
        if (c == std::string::npos) c = v.size();
        opt.models.push_back(v.substr(st, c - st));
        st = c + 1;
      }
    } else if (a == "--keep") {
      opt.keep = true;
    } else if (a == "--ring-mb") {
      opt.ring_mb = std::stoull(next());
    } else if (a == "--max-batch-kb") {
      opt.max_batch_kb = std::stoull(next());
    } else {
      std::fprintf(stderr,
                   "usage: ring_bench [--dir DIR] [--seconds S] [--rounds R] "
                   "[--sizes 200,4096] [--producers 1,8,64] [--models threads,async] [--ring-mb N] [--max-batch-kb N] [--keep]\n");
      return 2;
    }
  }
  std::printf(
      "ring_bench: dir=%s seconds=%.1f rounds=%d ring=%llu MiB max_batch=%llu KiB (medians over "
      "rounds)\n",
      opt.dir.c_str(), opt.seconds, opt.rounds, static_cast<unsigned long long>(opt.ring_mb),
      static_cast<unsigned long long>(opt.max_batch_kb));
  std::printf("%-8s %-6s %-9s %12s %9s %9s %9s %10s %10s %14s %9s\n", "model", "bytes", "producers",
              "appends/s", "p50_us", "p99_us", "batches", "avg_batch", "write_amp", "raw_limit/s",
              "vs_raw");
  for (const std::string& model : opt.models)
  for (size_t size : opt.sizes) {
    for (int producers : opt.producers) {
      std::vector<CaseResult> rounds;
      for (int k = 0; k < opt.rounds; k++) {
        rounds.push_back(RunCase(opt, size, producers, model == "async"));
      }
      auto median = [&](double CaseResult::*field) {
        std::vector<double> v;
        for (const CaseResult& c : rounds) v.push_back(c.*field);
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
      };
      std::vector<double> ratios;
      for (const CaseResult& c : rounds) {
        ratios.push_back(c.raw_appends_per_s > 0 ? c.appends_per_s / c.raw_appends_per_s : 0);
      }
      std::sort(ratios.begin(), ratios.end());
      CaseResult r;
      r.appends_per_s = median(&CaseResult::appends_per_s);
      r.p50_us = median(&CaseResult::p50_us);
      r.p99_us = median(&CaseResult::p99_us);
      r.avg_batch = median(&CaseResult::avg_batch);
      r.write_amp = median(&CaseResult::write_amp);
      r.raw_appends_per_s = median(&CaseResult::raw_appends_per_s);
      r.batches = rounds[rounds.size() / 2].batches;
      double ratio = ratios[ratios.size() / 2];
      std::printf("%-8s %-6zu %-9d %12.0f %9.0f %9.0f %9llu %10.1f %10.3f %14.0f %9.2f\n",
                  model.c_str(), size,
                  producers, r.appends_per_s, r.p50_us, r.p99_us,
                  static_cast<unsigned long long>(r.batches), r.avg_batch, r.write_amp,
                  r.raw_appends_per_s, ratio);
      std::fflush(stdout);
    }
  }
  return 0;
}
