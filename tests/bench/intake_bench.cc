// intake_bench: durable payloads per second and receipt latency through the intake socket,
// next to the in-process ring figure for the same records measured in the same run.
//
// Socket path: an IntakeServer listens on a real Unix socket in --dir, in front of a real ring
// file in --dir, with one route. N producer threads, each with its own connection, send with
// the C client for the phase's duration. Simple mode (pipeline 1) is edge_agent_send: one
// request outstanding per producer, as a simple producer does. Pipelined mode (--pipeline K)
// keeps K requests outstanding per producer with edge_agent_send_async/edge_agent_read_result,
// as real producers do. Latency is from just before the send to the `durable` answer.
//
// In-process path: the same N threads call Ring::Append (or, pipelined, keep K
// Ring::AppendAsync outstanding) on the same ring file, with a record of exactly the size the
// intake stores for one request: the payload wrapped in an Envelope with the same route, no
// headers (envelope::Encode, done once, outside the timing). The difference between the two
// is therefore what the socket costs: framing, two copies through the kernel, the server's
// poll loop, parsing, Envelope encoding, the completion queue and the answer.
//
// In both paths an acknowledger thread reads durable records and acknowledges them, as the
// publisher would with a broker that confirms at once, so the ring keeps wrapping and reusing
// segments as in the field (the same acknowledger as tests/bench/ring_bench.cc).
//
// The ring file is created once (zero-filled, synced) and every phase reopens it, so both
// paths run on the same file in the same state: no phase pays for creating it, and creation
// I/O does not dirty the other's figures.
//
// A benchmark, not a test: it prints figures and ratios and never fails on a timing.
// The machine may be shared and noisy, so each case runs the two paths back to back in every
// round, swapping which goes first from one round to the next, and reports medians over the
// rounds (the ratio is the median of the per-round ratios): a burst of outside load then hits
// both sides alike. *_cpu is the process's CPU time (user + system, every thread) per durable
// append and *_prd the part of it on the producer threads (the client library and its
// syscalls, or Append's enqueue and wait); the rest is the server loop, the ring writer and the
// acknowledger. They show where the socket path spends its extra work when the cores, not the
// disk, are the limit.
//
// Reading the simple rows on a virtual machine: with few producers every thread sleeps while
// a sync is in flight, and the sync's completion may then wait for an idle virtual CPU to wake
// (milliseconds), which hits whichever path leaves the CPUs idler (often the in-process one).
// --verbose prints each round, to see such bimodal phases behind a median.
//   intake_bench [--dir DIR] [--seconds S] [--rounds R] [--sizes 200,4096]
//                [--producers 1,8,64] [--pipeline K[,K...]] [--ring-mb N] [--verbose]
#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/client/edge_agent_client.h"
#include "agent/envelope/envelope.h"
#include "agent/intake/intake_server.h"
#include "agent/ops/log.h"
#include "agent/ring/ring.h"

namespace {

using Clock = std::chrono::steady_clock;
using edge::ring::Ring;
using edge::ring::RingOptions;

constexpr char kRoute[] = "bench";
// Generous: a blocked call under a 64-producer load on two shared cores must not be mistaken
// for a dead agent. A real E_TIMEOUT is still reported as a failure.
constexpr int kClientTimeoutMs = 60000;

struct Options {
  std::string dir = ".";
  double seconds = 1.0;
  int rounds = 5;
  std::vector<size_t> sizes = {200, 4096};
  std::vector<int> producers = {1, 8, 64};
  std::vector<int> pipelines;  // extra rows with K outstanding per producer
  uint64_t ring_mb = 256;
  bool verbose = false;  // every round's figures on stderr, to see the spread behind a median
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

// One phase (one path, one round).
struct PhaseResult {
  double appends_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  double avg_batch = 0;    // records per ring write + fdatasync
  double cpu_us = 0;       // process CPU time per durable append
  double producer_cpu_us = 0;  // the part spent on the producer threads (client or Append side)
  uint64_t failed = 0;     // requests not answered `durable`
  std::string first_error;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

double ProcessCpuSeconds() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

double ThreadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "intake_bench: %s\n", what.c_str());
  std::exit(1);
}

std::unique_ptr<Ring> OpenRing(const std::string& path, uint64_t ring_mb) {
  RingOptions ro;
  ro.file_bytes = ring_mb << 20;
  auto opened = Ring::Open(edge::port::FileSystem::Posix(), path, ro);
  if (!opened.ok()) Die(opened.status().ToString());
  return std::move(opened).value();
}

// Reads what is durable and acknowledges it, like a publisher whose broker confirms at once,
// so the ring keeps wrapping (as in ring_bench).
class Acknowledger {
 public:
  explicit Acknowledger(Ring* ring) : ring_(ring), thread_([this] { Run(); }) {}
  ~Acknowledger() {
    stop_ = true;
    thread_.join();
  }

 private:
  void Run() {
    edge::ring::RingStore& store = ring_->store();
    edge::ring::Position pos = store.head();
    edge::ring::RingStore::ReadBuffer rb;
    while (!stop_.load()) {
      if (pos.seq >= store.next_seq()) {
        ring_->WaitForDurable(pos.seq, 50);
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
  }

  Ring* ring_;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts once the members above exist
};

// What every producer thread of a phase shares: the start signal and the deadline. Threads are
// created and connected first, then released together, so neither thread start-up nor
// connecting is inside the measured window.
struct StartGate {
  std::promise<Clock::time_point> promise;
  std::shared_future<Clock::time_point> deadline = promise.get_future().share();
};

struct ProducerTally {
  std::vector<double> latencies_us;
  double cpu_s = 0;  // this thread's CPU time inside the window
  uint64_t failed = 0;
  std::string first_error;
  void Fail(const std::string& why) {
    if (failed++ == 0) first_error = why;
  }
};

// Runs `producers` threads of body(index, deadline, tally) for `seconds` and returns the phase's
// figures. The window ends when the last thread has its last answer (pipelined producers stop
// sending at the deadline and collect what is outstanding), and only answered requests count.
template <typename Body>
PhaseResult Measure(Ring* ring, int producers, double seconds, Body body) {
  std::vector<ProducerTally> tallies(static_cast<size_t>(producers));
  StartGate gate;
  std::vector<std::thread> threads;
  for (int t = 0; t < producers; t++) {
    threads.emplace_back([&, t] {
      ProducerTally& mine = tallies[static_cast<size_t>(t)];
      mine.latencies_us.reserve(1 << 16);
      const Clock::time_point deadline = gate.deadline.get();
      const double cpu0 = ThreadCpuSeconds();
      body(t, deadline, &mine);
      mine.cpu_s = ThreadCpuSeconds() - cpu0;
    });
  }
  const edge::ring::RingStats before = ring->store().stats();
  const double cpu0 = ProcessCpuSeconds();
  const Clock::time_point start = Clock::now();
  gate.promise.set_value(
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)));
  for (auto& th : threads) th.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = ProcessCpuSeconds() - cpu0;
  const edge::ring::RingStats after = ring->store().stats();

  PhaseResult r;
  std::vector<double> all;
  double producer_cpu = 0;
  for (ProducerTally& t : tallies) {
    all.insert(all.end(), t.latencies_us.begin(), t.latencies_us.end());
    producer_cpu += t.cpu_s;
    if (t.failed > 0 && r.failed == 0) r.first_error = t.first_error;
    r.failed += t.failed;
  }
  r.appends_per_s = secs > 0 ? static_cast<double>(all.size()) / secs : 0;
  r.p50_us = Percentile(all, 0.50);
  r.p99_us = Percentile(all, 0.99);
  const uint64_t batches = after.batches - before.batches;
  const uint64_t records = after.appended_records - before.appended_records;
  r.avg_batch = batches ? static_cast<double>(records) / static_cast<double>(batches) : 0;
  r.cpu_us = all.empty() ? 0 : cpu * 1e6 / static_cast<double>(all.size());
  r.producer_cpu_us = all.empty() ? 0 : producer_cpu * 1e6 / static_cast<double>(all.size());
  return r;
}

double MicrosSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

struct Case {
  size_t payload_bytes;
  int producers;
  int pipeline;  // requests outstanding per producer; 1 = edge_agent_send / Ring::Append
};

class Bench {
 public:
  explicit Bench(const Options& opt)
      : opt_(opt),
        ring_path_(opt.dir + "/intake_bench.ring"),
        socket_path_(opt.dir + "/intake_bench.sock") {}

  // Refuses a --dir that would make the figures meaningless or the socket impossible.
  void CheckDir() const {
    struct statfs fs {};
    if (::statfs(opt_.dir.c_str(), &fs) != 0) {
      Die("--dir " + opt_.dir + ": cannot stat it; give an existing directory on a disk");
    }
    if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC) {
      Die("--dir " + opt_.dir +
          " is on tmpfs/ramfs, where fdatasync costs nothing; give a directory on the disk "
          "the agent's ring would use");
    }
    if (socket_path_.size() >= sizeof(sockaddr_un{}.sun_path)) {
      Die("--dir " + opt_.dir + ": the socket path " + socket_path_ + " is longer than " +
          std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
          " bytes (the Unix socket limit); give a shorter directory");
    }
  }

  // Creates the ring file once (zero-filled and synced by Ring::Open), outside every timing.
  void CreateRing() {
    RemoveFiles();
    auto ring = OpenRing(ring_path_, opt_.ring_mb);
    (void)ring->Close();
  }

  void RemoveFiles() const {
    ::unlink(ring_path_.c_str());
    ::unlink((ring_path_ + ".lock").c_str());
    ::unlink(socket_path_.c_str());
  }

  PhaseResult RunSocket(const Case& c) {
    auto ring = OpenRing(ring_path_, opt_.ring_mb);
    PhaseResult r;
    {
      Acknowledger acker(ring.get());
      edge::intake::IntakeOptions io;
      io.socket_path = socket_path_;
      io.socket_mode = 0600;
      io.max_connections = c.producers + 1;
      io.idle_timeout_s = 3600;
      ::unlink(socket_path_.c_str());
      auto started = edge::intake::IntakeServer::Start(ring.get(), {kRoute}, io);
      if (!started.ok()) Die(started.status().ToString());
      std::unique_ptr<edge::intake::IntakeServer> server = std::move(started).value();

      std::vector<edge_agent_conn*> conns(static_cast<size_t>(c.producers), nullptr);
      for (edge_agent_conn*& conn : conns) {
        int rc = edge_agent_connect(socket_path_.c_str(), kClientTimeoutMs, &conn);
        if (rc != EDGE_AGENT_OK) {
          Die(std::string("connect ") + socket_path_ + ": " + edge_agent_strerror(rc));
        }
        edge_agent_set_timeout(conn, kClientTimeoutMs);
      }
      const std::string payload(c.payload_bytes, 'p');
      r = Measure(ring.get(), c.producers, opt_.seconds,
                  [&](int t, Clock::time_point deadline, ProducerTally* tally) {
                    edge_agent_conn* conn = conns[static_cast<size_t>(t)];
                    if (c.pipeline <= 1) {
                      SendSimple(conn, payload, deadline, tally);
                    } else {
                      SendPipelined(conn, payload, c.pipeline, deadline, tally);
                    }
                  });
      for (edge_agent_conn* conn : conns) edge_agent_close(conn);
      server->Stop();
    }
    (void)ring->Close();
    return r;
  }

  PhaseResult RunInProcess(const Case& c) {
    auto ring = OpenRing(ring_path_, opt_.ring_mb);
    // The record the intake stores for one request: same route, no headers, same payload.
    edge::envelope::Envelope e;
    e.route = kRoute;
    e.accepted_at_ms = 1;
    e.payload.assign(c.payload_bytes, 'p');
    const std::string record = edge::envelope::Encode(e);
    PhaseResult r;
    {
      Acknowledger acker(ring.get());
      r = Measure(ring.get(), c.producers, opt_.seconds,
                  [&](int, Clock::time_point deadline, ProducerTally* tally) {
                    if (c.pipeline <= 1) {
                      AppendSimple(ring.get(), record, deadline, tally);
                    } else {
                      AppendPipelined(ring.get(), record, c.pipeline, deadline, tally);
                    }
                  });
    }
    (void)ring->Close();
    return r;
  }

 private:
  static void SendSimple(edge_agent_conn* conn, const std::string& payload,
                         Clock::time_point deadline, ProducerTally* tally) {
    while (Clock::now() < deadline) {
      edge_agent_result res;
      const Clock::time_point t0 = Clock::now();
      int rc = edge_agent_send(conn, kRoute, nullptr, 0, payload.data(), payload.size(), 0, &res);
      const double us = MicrosSince(t0);
      if (rc != EDGE_AGENT_OK) {
        tally->Fail(std::string(edge_agent_strerror(rc)) + ": " + res.message);
        if (rc < 0) return;  // no answer: the connection is unusable
        continue;
      }
      tally->latencies_us.push_back(us);
    }
  }

  // Keeps `window` requests outstanding: fill the window, then one answer in, one request out.
  // Answers come in request order, so the oldest send time belongs to the next answer.
  static void SendPipelined(edge_agent_conn* conn, const std::string& payload, int window,
                            Clock::time_point deadline, ProducerTally* tally) {
    std::deque<Clock::time_point> sent;
    bool broken = false;
    while (!broken) {
      const bool sending = Clock::now() < deadline;
      while (sending && sent.size() < static_cast<size_t>(window)) {
        sent.push_back(Clock::now());
        int rc = edge_agent_send_async(conn, kRoute, nullptr, 0, payload.data(), payload.size(),
                                       0, nullptr);
        if (rc != EDGE_AGENT_OK) {
          tally->Fail(std::string("send_async: ") + edge_agent_strerror(rc));
          sent.pop_back();
          broken = true;
          break;
        }
      }
      if (sent.empty()) return;
      edge_agent_result res;
      int rc = edge_agent_read_result(conn, &res);
      const double us = MicrosSince(sent.front());
      sent.pop_front();
      if (rc != EDGE_AGENT_OK) {
        tally->Fail(std::string(edge_agent_strerror(rc)) + ": " + res.message);
        if (rc < 0) return;
        continue;
      }
      tally->latencies_us.push_back(us);
    }
  }

  static void AppendSimple(Ring* ring, const std::string& record, Clock::time_point deadline,
                           ProducerTally* tally) {
    while (Clock::now() < deadline) {
      const Clock::time_point t0 = Clock::now();
      auto res = ring->Append(record);
      const double us = MicrosSince(t0);
      if (!res.ok()) {
        tally->Fail(res.status().ToString());
        continue;
      }
      tally->latencies_us.push_back(us);
    }
  }

  // The in-process counterpart of SendPipelined: `window` AppendAsync outstanding per thread.
  // The callback runs on the ring's writer thread, as the intake's does; like the intake's it
  // only records the outcome and wakes its producer.
  static void AppendPipelined(Ring* ring, const std::string& record, int window,
                              Clock::time_point deadline, ProducerTally* tally) {
    std::mutex mu;
    std::condition_variable cv;
    int outstanding = 0;  // guarded by mu, as are tally's fields until every callback ran
    std::unique_lock<std::mutex> lock(mu);
    while (Clock::now() < deadline) {
      cv.wait(lock, [&] { return outstanding < window; });
      outstanding++;
      const Clock::time_point t0 = Clock::now();
      lock.unlock();
      ring->AppendAsync(record, [&, t0](edge::Result<uint64_t> res) {
        const double us = MicrosSince(t0);
        std::lock_guard<std::mutex> l(mu);
        if (res.ok()) {
          tally->latencies_us.push_back(us);
        } else {
          tally->Fail(res.status().ToString());
        }
        outstanding--;
        cv.notify_one();
      });
      lock.lock();
    }
    cv.wait(lock, [&] { return outstanding == 0; });
  }

  const Options& opt_;
  const std::string ring_path_;
  const std::string socket_path_;
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void ReportFailures(const char* path, const Case& c, const std::vector<PhaseResult>& rounds) {
  uint64_t failed = 0;
  std::string first;
  for (const PhaseResult& r : rounds) {
    if (r.failed > 0 && failed == 0) first = r.first_error;
    failed += r.failed;
  }
  if (failed == 0) return;
  std::fprintf(stderr,
               "intake_bench: %s, %zu B, %d producers, pipeline %d: %llu requests not durable "
               "(first: %s); their rounds undercount\n",
               path, c.payload_bytes, c.producers, c.pipeline,
               static_cast<unsigned long long>(failed), first.c_str());
}

void RunCase(Bench* bench, const Options& opt, const Case& c) {
  std::vector<PhaseResult> sock;
  std::vector<PhaseResult> inproc;
  std::vector<double> ratios;
  for (int k = 0; k < opt.rounds; k++) {
    // Swap the order every round so neither path always runs on a warmer (or dirtier) disk.
    if (k % 2 == 0) {
      sock.push_back(bench->RunSocket(c));
      inproc.push_back(bench->RunInProcess(c));
    } else {
      inproc.push_back(bench->RunInProcess(c));
      sock.push_back(bench->RunSocket(c));
    }
    if (opt.verbose) {
      const PhaseResult& s = sock.back();
      const PhaseResult& i = inproc.back();
      std::fprintf(stderr,
                   "  %zu B, %d producers, pipeline %d, round %d (%s first): socket %.0f/s p50 "
                   "%.0f us p99 %.0f us; in-process %.0f/s p50 %.0f us p99 %.0f us\n",
                   c.payload_bytes, c.producers, c.pipeline, k,
                   k % 2 == 0 ? "socket" : "in-process", s.appends_per_s, s.p50_us, s.p99_us,
                   i.appends_per_s, i.p50_us, i.p99_us);
    }
    const double in_rate = inproc.back().appends_per_s;
    ratios.push_back(in_rate > 0 ? sock.back().appends_per_s / in_rate : 0);
  }
  auto med = [](const std::vector<PhaseResult>& v, double PhaseResult::*field) {
    std::vector<double> xs;
    for (const PhaseResult& r : v) xs.push_back(r.*field);
    return Median(xs);
  };
  std::printf(
      "%-6zu %-9d %-8d %11.0f %8.0f %8.0f %11.0f %8.0f %8.0f %7.2f %9.1f %9.1f %8.1f %8.1f %8.1f "
      "%8.1f\n",
              c.payload_bytes, c.producers, c.pipeline, med(sock, &PhaseResult::appends_per_s),
              med(sock, &PhaseResult::p50_us), med(sock, &PhaseResult::p99_us),
              med(inproc, &PhaseResult::appends_per_s), med(inproc, &PhaseResult::p50_us),
              med(inproc, &PhaseResult::p99_us), Median(ratios),
              med(sock, &PhaseResult::avg_batch), med(inproc, &PhaseResult::avg_batch),
              med(sock, &PhaseResult::cpu_us), med(sock, &PhaseResult::producer_cpu_us),
              med(inproc, &PhaseResult::cpu_us), med(inproc, &PhaseResult::producer_cpu_us));
  std::fflush(stdout);
  ReportFailures("socket", c, sock);
  ReportFailures("in-process", c, inproc);
}

void Usage() {
  std::fprintf(stderr,
               "usage: intake_bench [--dir DIR] [--seconds S] [--rounds R] [--sizes 200,4096]\n"
               "                    [--producers 1,8,64] [--pipeline K[,K...]] [--ring-mb N]\n"
               "                    [--verbose]\n"
               "  --dir       where the ring file and the socket go; must be on the disk the\n"
               "              agent would use (tmpfs is refused). Default: .\n"
               "  --seconds   length of each measured phase (default 1)\n"
               "  --rounds    rounds per case, each running both paths; medians are reported\n"
               "              (default 5)\n"
               "  --sizes     payload bytes (default 200,4096)\n"
               "  --producers producer threads (default 1,8,64)\n"
               "  --pipeline  extra rows with K requests outstanding per producer (default none)\n"
               "  --ring-mb   ring file size in MiB (default 256)\n"
               "  --verbose   print every round's figures on stderr\n");
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "intake_bench: %s needs a value\n", a.c_str());
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
    } else if (a == "--pipeline") {
      opt.pipelines.clear();
      for (uint64_t v : ParseList(next())) opt.pipelines.push_back(static_cast<int>(v));
    } else if (a == "--ring-mb") {
      opt.ring_mb = std::stoull(next());
    } else if (a == "--verbose") {
      opt.verbose = true;
    } else if (a == "--help" || a == "-h") {
      Usage();
      return 0;
    } else {
      Usage();
      return 2;
    }
  }
  if (opt.rounds < 1 || opt.seconds <= 0) {
    std::fprintf(stderr, "intake_bench: --rounds must be >= 1 and --seconds > 0\n");
    return 2;
  }
  for (int p : opt.producers) {
    if (p < 1) {
      std::fprintf(stderr, "intake_bench: --producers: every count must be >= 1\n");
      return 2;
    }
  }
  for (int k : opt.pipelines) {
    if (k < 2) {
      std::fprintf(stderr, "intake_bench: --pipeline: K must be >= 2 (1 is the simple rows)\n");
      return 2;
    }
  }

  // The server logs every start and stop at info level; only warnings matter here.
  edge::ops::SetLogLevel(edge::ops::LogLevel::kWarning);
  Bench bench(opt);
  bench.CheckDir();
  bench.CreateRing();
  const size_t record_overhead = edge::envelope::kFixedBytes + sizeof(kRoute) - 1;
  std::printf(
      "intake_bench: dir=%s seconds=%.1f rounds=%d ring=%llu MiB route=%s (record = payload + "
      "%zu B envelope); medians over rounds, socket and in-process alternating\n",
      opt.dir.c_str(), opt.seconds, opt.rounds, static_cast<unsigned long long>(opt.ring_mb),
      kRoute, record_overhead);
  std::printf("%-6s %-9s %-8s %11s %8s %8s %11s %8s %8s %7s %9s %9s %8s %8s %8s %8s\n", "bytes",
              "producers", "pipeline", "socket/s", "p50_us", "p99_us", "inproc/s", "in_p50",
              "in_p99", "ratio", "sock_bat", "in_bat", "sock_cpu", "sock_prd", "in_cpu",
              "in_prd");
  std::vector<int> windows = {1};
  windows.insert(windows.end(), opt.pipelines.begin(), opt.pipelines.end());
  for (int window : windows) {
    for (size_t size : opt.sizes) {
      for (int producers : opt.producers) {
        RunCase(&bench, opt, Case{size, producers, window});
      }
    }
  }
  std::printf(
      "ratio = socket/s over inproc/s (median of per-round ratios); *_bat = records per ring "
      "write+fdatasync;\n*_cpu = process CPU us per durable append, *_prd = the part of it on "
      "the producer threads (the rest: server loop, ring writer, acknowledger)\n");
  bench.RemoveFiles();
  return 0;
}
