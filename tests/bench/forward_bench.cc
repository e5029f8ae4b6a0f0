// forward_bench: how fast edge-agent forwards the ring to RabbitMQ, next to other clients
// publishing the same messages to the same broker in the same run.
//
// One private RabbitMQ node (BrokerFixture: own ports, TLS, certificates made at start), one
// durable classic queue. Every client publishes persistent, mandatory messages of the same shape
// (content type, message_id, timestamp, four x-edge-* headers; default exchange) with publisher
// confirms and the same confirm window, and is timed from its first publish to its last confirm:
//   (a) rabbitmq-c, minimal and pipelined, plaintext: the broker's own ceiling (peers/)
//   (b) amqplib ConfirmChannel (Node.js), pipelined
//   (c) pika SelectConnection with confirms, pipelined; and pika BlockingConnection with
//       confirm_delivery, which waits for each confirm (not pipelined: shown for reference)
//   (d) edge-agent's Publisher draining a pre-filled ring (a real file), plaintext and TLS
//   (e) 200 B only: drain rate of a --backlog record ring filled while the publisher was stopped
//       (an outage), against the steady-state rate while producers keep appending as fast as
//       the ring takes them (both over TLS, the field configuration)
// The queue is purged between cases so the broker's disk stays small.
//
// A benchmark, not a test: it prints figures and ratios and never fails on a timing. The machine
// may be shared and noisy; compare ratios from one run rather than figures across runs.
//
// With --rounds R every case of (a)-(d) runs R times, round-robin (a burst of outside load then
// hits every client alike), and the median round is shown. A short unrecorded warm-up comes first.
//
//   forward_bench [--seconds S] [--messages N] [--sizes 200,4096] [--window W] [--rounds R]
//                 [--skip-peers] [--backlog N] [--skip-backlog] [--dir DIR] [--peers-dir DIR]
// Peers need `npm ci` in tests/bench/peers and python3-pika: scripts/bench-forward.sh does both.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/amqp/connection.h"
#include "agent/envelope/envelope.h"
#include "agent/ops/log.h"
#include "agent/publish/dead_letter_file.h"
#include "agent/publish/publisher.h"
#include "agent/publish/rabbit_session.h"
#include "agent/ring/ring.h"
#include "port/file.h"
#include "tests/support/broker_fixture.h"
#include "tests/support/child_process.h"

#ifndef EDGE_BENCH_PEERS_DIR
#define EDGE_BENCH_PEERS_DIR "tests/bench/peers"
#endif
#ifndef EDGE_BENCH_RABBITMQ_C_PEER
#define EDGE_BENCH_RABBITMQ_C_PEER "bench_rabbitmq_c_publisher"
#endif

namespace {

using Clock = std::chrono::steady_clock;
using edge::Result;
using edge::Status;
namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";  // Debian's, with python3-pika
constexpr const char* kRoute = "bench";
// Bounds for "it finished at all"; never compared against.
constexpr auto kPeerSlack = std::chrono::seconds(120);
constexpr int kBacklogBoundS = 1800;

struct Options {
  double seconds = 10;
  uint64_t messages = 1000000;  // per case, an upper bound next to --seconds
  std::vector<size_t> sizes = {200, 4096};
  uint32_t window = 512;
  int rounds = 1;
  bool skip_peers = false;
  uint64_t backlog = 1000000;
  bool skip_backlog = false;
  std::string dir = "/tmp";
  std::string peers_dir = EDGE_BENCH_PEERS_DIR;
};

struct Rate {
  uint64_t messages = 0;
  double seconds = 0;
  double per_s() const { return seconds > 0 ? static_cast<double>(messages) / seconds : 0; }
};

// One client at one payload size: every round's outcome, and the median round.
struct Row {
  size_t size = 0;
  std::string client;
  std::vector<Result<Rate>> rounds;
  // The round with the median rate among those that worked; the last error when none did.
  Result<Rate> Median() const {
    std::vector<Rate> ok;
    for (const auto& r : rounds) {
      if (r.ok()) ok.push_back(*r);
    }
    if (ok.empty())
      return rounds.empty() ? Result<Rate>(Status::Internal("not run")) : rounds.back();
    std::sort(ok.begin(), ok.end(),
              [](const Rate& a, const Rate& b) { return a.per_s() < b.per_s(); });
    return ok[ok.size() / 2];
  }
};

void Usage() {
  std::fprintf(stderr,
               "usage: forward_bench [--seconds S] [--messages N] [--sizes 200,4096] "
               "[--window W]\n                     [--rounds R] [--skip-peers] [--backlog N] "
               "[--skip-backlog] [--dir DIR] [--peers-dir DIR]\n");
}

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--seconds") {
      o->seconds = std::atof(value().c_str());
    } else if (a == "--messages") {
      o->messages = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--sizes") {
      o->sizes.clear();
      std::stringstream in(value());
      for (std::string s; std::getline(in, s, ',');) o->sizes.push_back(std::stoull(s));
    } else if (a == "--window") {
      o->window = static_cast<uint32_t>(std::strtoul(value().c_str(), nullptr, 10));
    } else if (a == "--rounds") {
      o->rounds = std::atoi(value().c_str());
    } else if (a == "--skip-peers") {
      o->skip_peers = true;
    } else if (a == "--backlog") {
      o->backlog = std::strtoull(value().c_str(), nullptr, 10);
    } else if (a == "--skip-backlog") {
      o->skip_backlog = true;
    } else if (a == "--dir") {
      o->dir = value();
    } else if (a == "--peers-dir") {
      o->peers_dir = value();
    } else {
      return false;
    }
  }
  return o->seconds > 0 && o->messages > 0 && o->window > 0 && o->rounds > 0 && !o->sizes.empty();
}

// The program's path from PATH (ChildProcess does no PATH search), or "".
std::string FindInPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream in(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(in, dir, ':');) {
    const std::string candidate = dir + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Everything the cases share: the node, the queue, where files go.
class Bench {
 public:
  Bench(const Options& o, edge::test::BrokerFixture* broker)
      : o_(o), broker_(broker), queue_("forward-bench-" + std::to_string(::getpid())) {}

  Status DeclareQueue() {
    auto conn = edge::amqp::Connection::Connect(PlainEndpoint());
    if (!conn.ok()) return conn.status();
    return edge::publish::DeclareTopology(conn->get(), Topo());
  }
  Status Purge() { return broker_->Ctl({"purge_queue", queue_}); }

  // Runs a peer publisher (a child process, stopped by pid) and reads its RESULT line.
  Result<Rate> RunPeer(std::vector<std::string> argv, size_t size, double seconds) {
    argv.insert(argv.end(),
                {"--port", std::to_string(broker_->amqp_port()), "--queue", queue_, "--size",
                 std::to_string(size), "--messages", std::to_string(o_.messages), "--seconds",
                 std::to_string(seconds), "--window", std::to_string(o_.window)});
    edge::test::SpawnOptions so;
    so.argv = argv;
    const char* path = std::getenv("PATH");
    const char* home = std::getenv("HOME");
    so.env = {{"PATH", path != nullptr ? path : "/usr/bin:/bin"},
              {"HOME", home != nullptr ? home : "/tmp"},
              {"LANG", "C.UTF-8"},
              {"EDGE_BENCH_USER", broker_->user()},
              {"EDGE_BENCH_PASSWORD", broker_->password()}};
    so.output_file = o_.dir + "/forward_bench_peer.out";
    std::error_code ec;
    fs::remove(so.output_file, ec);
    const auto bound = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::duration<double>(seconds)) +
                       kPeerSlack;
    Status s = edge::test::RunToCompletion(so, bound);
    std::ifstream in(so.output_file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    fs::remove(so.output_file, ec);
    if (!s.ok()) return s;
    size_t at = text.rfind("RESULT ");
    Rate r;
    unsigned long long messages = 0;
    if (at == std::string::npos ||
        std::sscanf(text.c_str() + at, "RESULT messages=%llu seconds=%lf", &messages, &r.seconds) !=
            2) {
      return Status::Internal("peer printed no RESULT line: " + text.substr(0, 500));
    }
    r.messages = messages;
    return r;
  }

  // (d): the Publisher drains `count` records pre-filled into a fresh ring; timed from the
  // moment it connected to the last confirm, or to max_seconds.
  Result<Rate> AgentDrain(bool tls, size_t size, uint64_t count, double max_seconds) {
    auto ring = FreshRing(size, count);
    if (!ring.ok()) return ring.status();
    Status s = Fill(ring->get(), size, count, nullptr);
    if (!s.ok()) return s;
    return TimePublisher(ring->get(), tls, max_seconds);
  }

  // (e) steady state: the publisher runs while one producer appends as fast as the ring takes
  // records (pipelined appends, group commit). Measured over `seconds` after a 1 s warm-up.
  Result<Rate> AgentSteady(bool tls, size_t size, double seconds, double* append_rate) {
    auto ring = FreshRing(size, o_.backlog);
    if (!ring.ok()) return ring.status();
    auto dlf = OpenDeadLetters();
    if (!dlf.ok()) return dlf.status();
    edge::publish::RabbitConnector connector({tls ? TlsEndpoint() : PlainEndpoint()}, Topo());
    edge::publish::Publisher publisher(ring->get(), &connector, dlf->get(), PublisherOpts());
    publisher.Start();
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> appended{0};
    std::thread producer([&] {
      Status filled = Fill(ring->get(), size, UINT64_MAX, &stop);
      (void)filled;  // ring_full only slows the producer; other errors show as a low rate
    });
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const auto t0 = Clock::now();
    const uint64_t c0 = publisher.stats().confirmed;
    const uint64_t a0 = (*ring)->store().next_seq();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    const uint64_t c1 = publisher.stats().confirmed;
    const uint64_t a1 = (*ring)->store().next_seq();
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    stop = true;
    producer.join();
    const auto ps = publisher.stats();
    publisher.Stop();
    if (c1 == c0) return Status::Unavailable("publisher confirmed nothing: " + ps.last_error);
    *append_rate = static_cast<double>(a1 - a0) / elapsed;
    return Rate{c1 - c0, elapsed};
  }

  const std::string& queue() const { return queue_; }

 private:
  edge::amqp::Endpoint PlainEndpoint() const {
    edge::amqp::Endpoint e;
    e.host = "127.0.0.1";
    e.port = broker_->amqp_port();
    e.security = edge::port::TransportSecurity::kPlaintext;
    e.user = broker_->user();
    e.password = broker_->password();
    e.connection_name = "forward_bench";
    return e;
  }
  edge::amqp::Endpoint TlsEndpoint() const {
    edge::amqp::Endpoint e = PlainEndpoint();
    e.port = broker_->amqps_port();
    e.security = edge::port::TransportSecurity::kTls;
    e.server_name = "localhost";
    e.ca_file = broker_->certs().ca();
    return e;
  }
  edge::publish::Topology Topo() const {
    edge::publish::Topology t;
    edge::publish::QueueSpec q;
    q.name = queue_;
    t.queues.push_back(q);
    return t;
  }
  edge::publish::PublisherOptions PublisherOpts() const {
    edge::publish::PublisherOptions po;
    po.agent_id = "bench";
    po.confirm_window = o_.window;
    po.routes[kRoute] = edge::publish::Route{kRoute, "", queue_, "application/octet-stream"};
    return po;
  }
  std::string RingPath() const { return o_.dir + "/forward_bench.ring"; }

  Result<std::unique_ptr<edge::publish::DeadLetterFile>> OpenDeadLetters() const {
    const std::string path = o_.dir + "/forward_bench.dead";
    std::error_code ec;
    fs::remove(path, ec);
    return edge::publish::DeadLetterFile::Open(edge::port::FileSystem::Posix(), path);
  }

  // A new ring file big enough for `records` envelopes of `size` bytes.
  Result<std::unique_ptr<edge::ring::Ring>> FreshRing(size_t size, uint64_t records) {
    std::error_code ec;
    fs::remove(RingPath(), ec);
    // Envelope (15 + route) + record header (28) + batch padding, with room to spare.
    const uint64_t per_record = size + 15 + 5 + 28 + 16;
    edge::ring::RingOptions ro;
    ro.file_bytes = ((records * per_record * 5 / 4 + (32ull << 20)) >> 20) << 20;
    return edge::ring::Ring::Open(edge::port::FileSystem::Posix(), RingPath(), ro);
  }

  // Appends `count` records (or until *stop), keeping many appends in flight so the ring's
  // group commit forms large batches. A full ring makes it wait; other errors end it.
  static Status Fill(edge::ring::Ring* ring, size_t size, uint64_t count, std::atomic<bool>* stop) {
    edge::envelope::Envelope env;
    env.route = kRoute;
    env.accepted_at_ms = 1700000000000;
    env.payload.assign(size, 'b');
    const std::string record = edge::envelope::Encode(env);
    constexpr uint64_t kInFlight = 8192;
    std::mutex mu;
    std::condition_variable cv;
    uint64_t in_flight = 0;  // guarded by mu
    bool full = false;       // guarded by mu: the ring said ring_full
    Status error;            // guarded by mu: the first other error
    for (uint64_t i = 0; i < count; i++) {
      {
        std::unique_lock<std::mutex> l(mu);
        cv.wait(l, [&] { return in_flight < kInFlight; });
        if (!error.ok()) break;
        if (full) {
          cv.wait(l, [&] { return in_flight == 0; });
          full = false;
          l.unlock();
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          l.lock();
        }
        in_flight++;
      }
      if (stop != nullptr && stop->load()) {
        std::lock_guard<std::mutex> l(mu);
        in_flight--;
        break;
      }
      ring->AppendAsync(record, [&](Result<uint64_t> r) {
        std::lock_guard<std::mutex> l(mu);
        in_flight--;
        if (!r.ok()) {
          if (r.status().code() == edge::Code::kRingFull) {
            full = true;
          } else if (error.ok()) {
            error = r.status();
          }
        }
        cv.notify_all();
      });
    }
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return in_flight == 0; });
    return error;
  }

  // Runs the publisher over what the ring holds: from the moment it connected until everything
  // is confirmed or max_seconds passed.
  Result<Rate> TimePublisher(edge::ring::Ring* ring, bool tls, double max_seconds) {
    auto dlf = OpenDeadLetters();
    if (!dlf.ok()) return dlf.status();
    edge::publish::RabbitConnector connector({tls ? TlsEndpoint() : PlainEndpoint()}, Topo());
    edge::publish::Publisher publisher(ring, &connector, dlf->get(), PublisherOpts());
    const uint64_t target = ring->store().next_seq();
    publisher.Start();
    Clock::time_point t0;
    bool connected = false;
    const auto bound = Clock::now() + std::chrono::seconds(60);
    while (!connected) {
      connected = publisher.stats().connected;
      t0 = Clock::now();
      if (t0 > bound) return Status::Unavailable("no connection: " + publisher.stats().last_error);
      if (!connected) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(max_seconds));
    edge::publish::PublisherStats s;
    for (;;) {
      s = publisher.stats();
      if (s.confirmed_through >= target || Clock::now() >= deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
    publisher.Stop();
    if (s.confirmed == 0) return Status::Unavailable("nothing confirmed: " + s.last_error);
    return Rate{s.confirmed, elapsed};
  }

  const Options& o_;
  edge::test::BrokerFixture* broker_;
  const std::string queue_;
};

std::string FormatRate(const Result<Rate>& r, size_t size) {
  char line[160];
  if (!r.ok()) {
    std::snprintf(line, sizeof(line), "%12s %9s %10s %9s  %s", "-", "-", "-", "-",
                  r.status().ToString().substr(0, 200).c_str());
    return line;
  }
  std::snprintf(line, sizeof(line), "%12.0f %9.2f %10llu %9.2f", r->per_s(),
                r->per_s() * static_cast<double>(size) / 1e6,
                static_cast<unsigned long long>(r->messages), r->seconds);
  return line;
}

Row* FindRow(std::vector<Row>& rows, size_t size, const std::string& client) {
  for (Row& r : rows) {
    if (r.size == size && r.client == client) return &r;
  }
  rows.push_back(Row{size, client, {}});
  return &rows.back();
}

double RateOf(const std::vector<Row>& rows, size_t size, const std::string& client) {
  for (const Row& r : rows) {
    if (r.size != size || r.client != client) continue;
    Result<Rate> m = r.Median();
    return m.ok() ? m->per_s() : 0;
  }
  return 0;
}

std::string Ratio(double num, double den) {
  if (num <= 0 || den <= 0) return "n/a";
  char b[32];
  std::snprintf(b, sizeof(b), "%.2f", num / den);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) {
    Usage();
    return 2;
  }
  edge::ops::SetLogLevel(edge::ops::LogLevel::kWarning);
  std::printf("forward_bench: starting a private RabbitMQ node...\n");
  std::fflush(stdout);
  auto broker = edge::test::BrokerFixture::Start();
  if (!broker.ok()) {
    std::fprintf(stderr, "forward_bench: %s\n", broker.status().ToString().c_str());
    return 1;
  }
  Bench bench(o, broker->get());
  Status s = bench.DeclareQueue();
  if (!s.ok()) {
    std::fprintf(stderr, "forward_bench: declaring the queue: %s\n", s.ToString().c_str());
    return 1;
  }

  const std::string node = FindInPath("node");
  const bool have_amqplib = !node.empty() && fs::exists(o.peers_dir + "/node_modules/amqplib");
  edge::test::SpawnOptions probe;
  probe.argv = {kPython, "-c", "import pika"};
  const bool have_pika = edge::test::RunToCompletion(probe, std::chrono::seconds(30)).ok();
  if (!o.skip_peers && !have_amqplib) {
    std::printf(
        "note: amqplib peer skipped (no node or no %s/node_modules: run "
        "scripts/bench-forward.sh or npm ci there)\n",
        o.peers_dir.c_str());
  }
  if (!o.skip_peers && !have_pika) {
    std::printf("note: pika peers skipped (%s cannot import pika: apt-get install python3-pika)\n",
                kPython);
  }

  std::vector<Row> rows;
  int round = 0;
  auto run = [&](size_t size, const std::string& client, auto fn) {
    std::printf("  round %d/%d: %-44s %5zu B ...\n", round + 1, o.rounds, client.c_str(), size);
    std::fflush(stdout);
    Result<Rate> r = fn();
    Status purged = bench.Purge();
    if (!purged.ok()) std::printf("  (purge failed: %s)\n", purged.ToString().c_str());
    FindRow(rows, size, client)->rounds.push_back(std::move(r));
  };

  const std::string kRabbitC = "rabbitmq-c minimal, plaintext";
  const std::string kAmqplib = "amqplib ConfirmChannel, plaintext";
  const std::string kPikaAsync = "pika SelectConnection async, plaintext";
  const std::string kPikaBlocking = "pika Blocking (not pipelined), plaintext";
  const std::string kAgentPlain = "edge-agent ring drain, plaintext";
  const std::string kAgentTls = "edge-agent ring drain, TLS";
  // Warm-up, not recorded: the node's first seconds of load are slower (allocation, JIT).
  {
    std::printf("  warm-up ...\n");
    std::fflush(stdout);
    Result<Rate> w = o.skip_peers ? bench.AgentDrain(false, 200, 5000, 3)
                                  : bench.RunPeer({EDGE_BENCH_RABBITMQ_C_PEER}, 200, 2);
    if (!w.ok()) std::printf("  (warm-up failed: %s)\n", w.status().ToString().c_str());
    (void)bench.Purge();
  }

  for (round = 0; round < o.rounds; round++) {
    for (size_t size : o.sizes) {
      if (!o.skip_peers) {
        run(size, kRabbitC,
            [&] { return bench.RunPeer({EDGE_BENCH_RABBITMQ_C_PEER}, size, o.seconds); });
        if (have_amqplib) {
          run(size, kAmqplib, [&] {
            return bench.RunPeer({node, o.peers_dir + "/amqplib_publisher.js"}, size, o.seconds);
          });
        }
        if (have_pika) {
          run(size, kPikaAsync, [&] {
            return bench.RunPeer({kPython, o.peers_dir + "/pika_publisher.py", "--mode", "async"},
                                 size, o.seconds);
          });
          run(size, kPikaBlocking, [&] {
            return bench.RunPeer(
                {kPython, o.peers_dir + "/pika_publisher.py", "--mode", "blocking"}, size,
                std::min(o.seconds, 5.0));
          });
        }
      }
      // Pre-fill about what the fastest peer moved in --seconds (x1.5), so the drain lasts about
      // as long as the peers ran; --messages without peers.
      double fastest = std::max({RateOf(rows, size, kRabbitC), RateOf(rows, size, kAmqplib),
                                 RateOf(rows, size, kPikaAsync)});
      uint64_t prefill = o.messages;
      if (fastest > 0) {
        prefill = std::min<uint64_t>(prefill, static_cast<uint64_t>(fastest * o.seconds * 1.5));
      }
      prefill = std::max<uint64_t>(prefill, 1000);
      run(size, kAgentPlain, [&] { return bench.AgentDrain(false, size, prefill, o.seconds); });
      run(size, kAgentTls, [&] { return bench.AgentDrain(true, size, prefill, o.seconds); });
    }
  }

  Result<Rate> drain = Status::Internal("skipped");
  Result<Rate> steady = Status::Internal("skipped");
  double append_rate = 0;
  if (!o.skip_backlog) {
    std::printf("  running steady state (producers appending), 200 B, TLS ...\n");
    std::fflush(stdout);
    steady = bench.AgentSteady(true, 200, o.seconds, &append_rate);
    (void)bench.Purge();
    std::printf("  running backlog drain of %llu records, 200 B, TLS ...\n",
                static_cast<unsigned long long>(o.backlog));
    std::fflush(stdout);
    drain = bench.AgentDrain(true, 200, o.backlog, kBacklogBoundS);
    (void)bench.Purge();
  }

  std::printf(
      "\nforward_bench: private RabbitMQ node, durable classic queue, persistent + "
      "mandatory, publisher confirms, window %u, up to %.0f s or %llu messages per case\n",
      o.window, o.seconds, static_cast<unsigned long long>(o.messages));
  if (o.rounds > 1) std::printf("(median of %d rounds)\n", o.rounds);
  std::printf("%-8s %-44s %12s %9s %10s %9s\n", "payload", "client", "msgs/s", "MB/s", "messages",
              "seconds");
  for (const Row& r : rows) {
    std::printf("%-8s %-44s %s\n", (std::to_string(r.size) + " B").c_str(), r.client.c_str(),
                FormatRate(r.Median(), r.size).c_str());
  }
  if (!o.skip_backlog) {
    std::printf("%-8s %-44s %s\n", "200 B", "edge-agent steady (producers appending), TLS",
                FormatRate(steady, 200).c_str());
    std::printf("%-8s %-44s %s\n", "200 B", "edge-agent backlog drain after outage, TLS",
                FormatRate(drain, 200).c_str());
  }
  std::printf("\nratios (MB/s counts payload bytes only)\n");
  for (size_t size : o.sizes) {
    const double plain = RateOf(rows, size, kAgentPlain);
    std::printf(
        "  %5zu B: agent/rabbitmq-c (plaintext) %s [target >= 0.9]   agent/amqplib "
        "(plaintext) %s [target >= 1.3]   agent TLS/agent plaintext %s\n",
        size, Ratio(plain, RateOf(rows, size, kRabbitC)).c_str(),
        Ratio(plain, RateOf(rows, size, kAmqplib)).c_str(),
        Ratio(RateOf(rows, size, kAgentTls), plain).c_str());
  }
  if (!o.skip_backlog && drain.ok() && steady.ok()) {
    std::printf(
        "  200 B backlog: drain of %llu records after an outage / steady state = %s "
        "(the ring accepted %.0f appends/s during steady state; producers wait on ring_full)\n",
        static_cast<unsigned long long>(drain->messages),
        Ratio(drain->per_s(), steady->per_s()).c_str(), append_rate);
  }
  std::error_code ec;
  fs::remove(o.dir + "/forward_bench.ring", ec);
  fs::remove(o.dir + "/forward_bench.dead", ec);
  fs::remove(o.dir + "/forward_bench.ring.lock", ec);
  return 0;
}
