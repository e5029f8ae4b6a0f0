// Power cuts through the whole daemon path: producers hand payloads to the real AgentDaemon over
// its Unix socket (the C client library, pipelined), the intake answers `durable`, the ring
// group-commits on a SimFileSystem, the publisher forwards to a FakeBroker that takes, confirms,
// blocks, drops the connection or returns (the `nowhere` route: dead-letter file) - and the
// power fails at every mutating I/O the daemon does.
//
// How the crash images are made (a multi-threaded run cannot be re-run to an operation count):
// the SimFileSystem's mutation observer freezes the file system before each write, fsync or
// directory change; the observer first learns what the broker holds, then which `durable`
// answers producers have read (daemon_powercut_oracle.h: a producer records an answer only
// after it arrived, which is after its fsync returned; an fsync still to come is blocked behind
// the frozen file system), then clones the disk and power-cuts the clone kCutsPerSnapshot ways
// (fault mixes: lost, torn, zeroed, garbage sectors; lost directory entries), recovers each and
// checks it against that knowledge. Every run has two boots: boot 1 is cut for good at a random
// moment, and boot 2 - the whole daemon start-up on that crash image, with new producers and a
// new broker connection - is observed the same way, recovery's own writes included, so seqs
// reused across a reboot are caught. A few images per run are not just recovered but booted:
// the whole daemon starts on them, must forward everything the producers were promised to a new
// broker (or the dead-letter file), and give a new payload a seq above every seq known.
//
// Budget: EDGE_DAEMON_POWERCUT_IMAGES, else EDGE_POWERCUT_IMAGES, else 100000 crash images
// (15000 under qemu user mode, EDGE_UNDER_QEMU=1: emulation is ~5x slower, and the cross run is
// there to catch what differs on ARM, while the native run covers the full budget).
// EDGE_DAEMON_POWERCUT_SEED=W runs only workload W (thread interleavings differ between runs,
// so a failure is investigated by re-running its workload, not replayed bit for bit).
// Ends with the RELIABILITY line (tests/support/reliability_line.h), suite daemon-powercut.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/client/edge_agent_client.h"
#include "agent/daemon/agent_daemon.h"
#include "agent/ops/log.h"
#include "config/config.h"
#include "port/sim_fs.h"
#include "tests/powercut/daemon_powercut_oracle.h"
#include "tests/support/fake_broker.h"
#include "tests/support/reliability_line.h"

namespace edge::powercut {
namespace {

using port::SimFaultMix;
using port::SimFileSystem;
using port::SimFrozenView;
using port::SimMutation;

constexpr char kAgentId[] = "pc-gw";
constexpr char kRingPath[] = "/var/lib/edge-agent/ring";
constexpr char kDeadLetterPath[] = "/var/lib/edge-agent/dead-letters.jsonl";
constexpr char kUnroutableKey[] = "nowhere";
constexpr int kCutsPerSnapshot = 4;
constexpr int kRestartsPerRun = 3;
constexpr uint64_t kRestartOneIn = 61;   // of the observed I/O points, roughly
constexpr uint32_t kRestartBoot = 1000;  // producer boot number of payloads sent after a restart
// Bounds on waiting, never pass/fail thresholds: a healthy run is far below them.
constexpr int kClientTimeoutMs = 30000;
constexpr int kDrainBoundMs = 20000;

uint64_t Mix(uint64_t a, uint64_t b, uint64_t c = 0, uint64_t d = 0) {
  uint64_t z = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull ^
               (c + 0x8cb92ba72f3d8dd7ull) * 0x94d049bb133111ebull ^ (d + 0x2545f4914f6cdd1dull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Mostly the default mix (old, new, zeros, garbage per sector), sometimes drop-or-keep only
// (reordering without tearing), sometimes mostly garbage, sometimes nothing un-synced at all.
SimFaultMix MixForCut(uint64_t cut) {
  switch (cut % 8) {
    case 0:
    case 1:
      return SimFaultMix::DropOrKeep();
    case 2:
      return SimFaultMix{1, 1, 1, 4, 1, 1};
    case 3:
      return SimFaultMix::DropAll();
    default:
      return SimFaultMix();
  }
}

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

uint64_t ImageBudget() {
  const char* qemu = std::getenv("EDGE_UNDER_QEMU");
  const uint64_t fallback = qemu != nullptr && std::strcmp(qemu, "1") == 0 ? 15000 : 100000;
  return EnvNumber("EDGE_DAEMON_POWERCUT_IMAGES", EnvNumber("EDGE_POWERCUT_IMAGES", fallback));
}

const char* KindName(SimMutation::Kind k) {
  switch (k) {
    case SimMutation::Kind::kWrite:
      return "write";
    case SimMutation::Kind::kSync:
      return "fdatasync";
    case SimMutation::Kind::kCreate:
      return "create";
    case SimMutation::Kind::kRename:
      return "rename";
    case SimMutation::Kind::kRemove:
      return "remove";
    case SimMutation::Kind::kSyncDir:
      return "dir-sync";
  }
  return "?";
}

// --- One workload --------------------------------------------------------------------------

struct RunSpec {
  uint64_t seed = 0;
  bool drop_oldest = false;
  int producers = 3;
  int payloads_per_producer = 0;
  int pipeline = 1;  // requests a producer keeps outstanding
  int confirm_window = 0;

  std::string Describe() const {
    return "daemon workload seed=" + std::to_string(seed) + " (" +
           (drop_oldest ? "drop_oldest" : "reject") + ", " + std::to_string(producers) +
           " producers x " + std::to_string(payloads_per_producer) + ", pipeline " +
           std::to_string(pipeline) + ", confirm window " + std::to_string(confirm_window) + ")";
  }
};

RunSpec SpecFor(uint64_t w) {
  RunSpec s;
  s.seed = w;
  s.drop_oldest = w % 3 == 0;
  s.producers = 2 + static_cast<int>(Mix(w, 1) % 3);
  s.payloads_per_producer = 80 + static_cast<int>(Mix(w, 2) % 120);
  s.pipeline = 1 + static_cast<int>(Mix(w, 3) % 6);
  s.confirm_window = 1 + static_cast<int>(Mix(w, 4) % 40);
  return s;
}

// The config goes through the real loader; only the ring is then shrunk below the loader's
// 1 MiB minimum (8 segments of 4 KiB): wrap-around, segment reuse, ring_full and drop_oldest
// happen within a few hundred payloads, and a crash image is cheap to copy.
config::AgentConfig MakeConfig(const RunSpec& spec, const std::string& socket_path) {
  const std::string json = std::string(R"({
    "agent_id": ")") + kAgentId +
                           R"(",
    "ring": {"path": ")" + kRingPath +
                           R"(", "size": "1MiB",
             "full_policy": ")" +
                           (spec.drop_oldest ? "drop_oldest" : "reject") + R"("},
    "intake": {"socket_path": ")" +
                           socket_path + R"(", "socket_mode": "0600"},
    "dead_letter_path": ")" +
                           kDeadLetterPath + R"(",
    "broker": {
      "endpoints": [{"host": "fake-broker.invalid"}],
      "tls": {"enabled": false}, "allow_plaintext": true,
      "auth": {"mechanism": "plain", "user": "pc", "password_file": "/nonexistent/pc.password"},
      "confirm_window": )" +
                           std::to_string(spec.confirm_window) + R"(,
      "backoff_initial_ms": 1, "backoff_max_ms": 20
    },
    "routes": {
      "telemetry": {"exchange": "sensors", "routing_key": "t"},
      "jobs": {"exchange": "jobs", "routing_key": "j"},
      "nowhere": {"exchange": "sensors", "routing_key": ")" +
                           kUnroutableKey + R"("}
    },
    "log": {"level": "error"}
  })";
  config::LoadOptions options;
  options.check_files = false;
  auto parsed = config::ParseConfig(json, "daemon-powercut", port::FileSystem::Posix(), options);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  config::AgentConfig c = parsed.ok() ? std::move(parsed).value() : config::AgentConfig();
  c.control.socket_path.clear();  // no status socket: nothing to check there
  c.ring.segment_bytes = 4096;
  c.ring.size_bytes = ring::kDataOffset + 8 * 4096;
  return c;
}

DaemonLayout LayoutFor(const config::AgentConfig& c) {
  DaemonLayout l;
  l.agent_id = c.agent_id;
  l.ring_path = c.ring.path;
  l.dead_letter_path = c.dead_letter_path;
  l.ring_options = config::RingOptionsFrom(c);
  for (const auto& [name, route] : c.routes) l.routes.insert(name);
  return l;
}

// A private directory for the intake sockets of one test process.
class SocketDir {
 public:
  SocketDir() {
    char tmpl[] = "/tmp/edge-dpower-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  }
  ~SocketDir() {
    for (const std::string& p : made_) ::unlink(p.c_str());
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  std::string Next() {
    made_.push_back(dir_ + "/intake-" + std::to_string(made_.size()) + ".sock");
    return made_.back();
  }

 private:
  std::string dir_;
  std::vector<std::string> made_;
};

// Producer threads, each on its own connection, sending self-describing payloads to three
// routes (one of them unroutable at the broker) and recording every `durable` answer.
class Producers {
 public:
  Producers(const RunSpec& spec, uint32_t boot, const std::string& socket_path, DurableLog* log)
      : spec_(spec), boot_(boot), socket_path_(socket_path), log_(log) {}
  ~Producers() { Stop(); }

  void Start() {
    for (int p = 0; p < spec_.producers; p++) threads_.emplace_back([this, p] { Run(p); });
  }
  // Asks them to finish (answers of requests already sent are still read) and joins them.
  void Stop() {
    stop_.store(true);
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  bool done() const { return finished_.load() == spec_.producers; }
  uint64_t answers() const { return answers_.load(); }
  uint64_t durable() const { return durable_.load(); }
  uint64_t ring_full() const { return ring_full_.load(); }
  uint64_t failures() const { return failures_.load(); }

 private:
  void Run(int p) {
    edge_agent_conn* c = nullptr;
    if (edge_agent_connect(socket_path_.c_str(), kClientTimeoutMs, &c) != EDGE_AGENT_OK) {
      failures_++;
      finished_++;
      return;
    }
    std::deque<std::string> outstanding;
    auto read_one = [&]() -> bool {
      edge_agent_result r;
      int rc = edge_agent_read_result(c, &r);
      if (rc < 0) return false;
      answers_++;
      if (rc == EDGE_AGENT_OK && r.receipt >= EDGE_AGENT_RECEIPT_DURABLE) {
        log_->Add(r.seq, outstanding.front());  // only now: the answer has arrived
        durable_++;
      } else if (rc == EDGE_AGENT_RING_FULL) {
        ring_full_++;
        std::this_thread::sleep_for(std::chrono::microseconds(300));  // pacing, not a check
      } else {
        failures_++;
      }
      outstanding.pop_front();
      return true;
    };
    bool alive = true;
    for (int n = 0; alive && n < spec_.payloads_per_producer && !stop_.load(); n++) {
      const uint64_t r = Mix(spec_.seed, boot_, static_cast<uint64_t>(p), static_cast<uint64_t>(n));
      const char* route = r % 16 == 0 ? "nowhere" : (r >> 8) % 2 ? "telemetry" : "jobs";
      std::string payload = MakeProducerPayload(
          spec_.seed, {boot_, static_cast<uint32_t>(p), static_cast<uint32_t>(n)}, (r >> 16) % 400);
      if (edge_agent_send_async(c, route, nullptr, 0, payload.data(), payload.size(), 0, nullptr) !=
          EDGE_AGENT_OK) {
        break;
      }
      outstanding.push_back(std::move(payload));
      while (alive && outstanding.size() >= static_cast<size_t>(spec_.pipeline)) {
        alive = read_one();
      }
    }
    while (alive && !outstanding.empty()) alive = read_one();
    edge_agent_close(c);
    finished_++;
  }

  const RunSpec spec_;
  const uint32_t boot_;
  const std::string socket_path_;
  DurableLog* const log_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int> finished_{0};
  std::atomic<uint64_t> answers_{0};
  std::atomic<uint64_t> durable_{0};
  std::atomic<uint64_t> ring_full_{0};
  std::atomic<uint64_t> failures_{0};
};

// An image to boot the whole daemon on, after the run.
struct RestartSample {
  std::unique_ptr<SimFileSystem> image;  // not yet power-cut
  uint64_t cut = 0;
  std::unique_ptr<DaemonOracle> oracle;  // what was known at that moment
  std::string context;
};

struct Totals {
  uint64_t images = 0;
  uint64_t snapshots = 0;
  uint64_t runs = 0;
  uint64_t restarts = 0;
  uint64_t redelivered = 0;
  uint64_t durable_answers = 0;
  uint64_t ring_full_answers = 0;
  // What the running daemons did (their status at the end of each boot): proof that the runs
  // reach dead-lettering, drop_oldest, reconnects and re-sends.
  uint64_t dead_lettered = 0;
  uint64_t dropped = 0;
  uint64_t reconnects = 0;
  uint64_t confirmed = 0;
  Findings findings;

  void AddBoot(const ops::StatusSnapshot& s, const Producers& p) {
    durable_answers += p.durable();
    ring_full_answers += p.ring_full();
    dead_lettered += s.dead_lettered;
    reconnects += s.reconnects;
    confirmed += s.confirmed;
  }
};

Totals& GlobalTotals() {
  static Totals t;
  return t;
}

// The mutation observer: learns, clones, cuts, checks. Serialised by the file system it
// observes (one boot at a time is followed) and by mu_ against the test thread.
class Snapshotter {
 public:
  Snapshotter(const RunSpec& spec, DaemonOracle* oracle, Findings* findings)
      : spec_(spec), oracle_(oracle), findings_(findings) {}

  // Follows a boot: its file system, the producers' answers and the broker.
  void Follow(SimFileSystem* fs, uint32_t boot, DurableLog* log, test::FakeBroker* broker) {
    {
      std::lock_guard<std::mutex> l(mu_);
      boot_ = boot;
      log_ = log;
      broker_ = broker;
      log_seen_ = 0;
      broker_seen_ = 0;
      active_ = true;
      crash_requested_.store(false);
      crash_taken_.store(false);
    }
    fs->SetMutationObserver(
        [this](const SimMutation& m, const SimFrozenView& view) { OnMutation(m, view); });
  }

  // The next observed operation of this boot is where its power fails for good.
  void RequestCrash() { crash_requested_.store(true); }
  bool crash_taken() const { return crash_taken_.load(); }
  std::unique_ptr<SimFileSystem> TakeCrashImage() {
    std::lock_guard<std::mutex> l(mu_);
    return std::move(crash_image_);
  }

  // Every thread of the boot has stopped: the moment after its last operation is one more
  // snapshot (and, when no crash point was reached, the crash image).
  void Quiesce(SimFileSystem* fs) {
    std::unique_ptr<SimFileSystem> now = fs->Clone();
    fs->SetMutationObserver(nullptr);
    std::lock_guard<std::mutex> l(mu_);
    if (!active_) return;
    Snapshot(*now, "end of boot", -1);
    if (crash_requested_.load() && crash_image_ == nullptr) {
      crash_image_ = std::move(now);
      crash_taken_.store(true);
    }
    active_ = false;
  }

  std::vector<RestartSample> TakeSamples() {
    std::lock_guard<std::mutex> l(mu_);
    return std::move(samples_);
  }
  uint64_t images() const { return images_; }
  uint64_t snapshots() const { return snapshots_; }

 private:
  void OnMutation(const SimMutation& m, const SimFrozenView& view) {
    std::lock_guard<std::mutex> l(mu_);
    if (!active_) return;
    std::unique_ptr<SimFileSystem> now = view.Clone();
    Snapshot(*now, std::string(KindName(m.kind)) + " " + m.path, m.index);
    if (crash_requested_.load()) {
      crash_image_ = std::move(now);
      crash_taken_.store(true);
      active_ = false;  // the rest of this boot never happened
    }
  }

  // REQUIRES: mu_ held; now is the disk of this instant.
  void Snapshot(const SimFileSystem& now, const std::string& what, int64_t index) {
    const std::string at = spec_.Describe() + " boot=" + std::to_string(boot_) + " op#" +
                           std::to_string(index) + " (before " + what + ")";
    // The broker first, the producers second: both as of now, while the disk stands still.
    for (const test::FakeMessage& m : broker_->received_from(broker_seen_)) {
      oracle_->LearnAtBroker(m, at, findings_);
      broker_seen_++;
    }
    for (const auto& [seq, payload] : log_->From(log_seen_)) {
      oracle_->LearnDurable(seq, payload, at, findings_);
      log_seen_++;
    }
    snapshots_++;
    for (int c = 0; c < kCutsPerSnapshot; c++) {
      const uint64_t cut = Mix(spec_.seed, boot_, static_cast<uint64_t>(index + 2), c);
      std::unique_ptr<SimFileSystem> image = now.Clone();
      image->SetFaultMix(MixForCut(cut));
      image->PowerCut(cut);
      oracle_->CheckImage(image.get(), at + " cut=" + std::to_string(cut), findings_);
      images_++;
    }
    const uint64_t pick = Mix(spec_.seed, boot_, static_cast<uint64_t>(index + 2), 99);
    if (samples_.size() < kRestartsPerRun && pick % kRestartOneIn == 0) {
      RestartSample s;
      s.image = now.Clone();
      s.cut = pick;
      s.oracle = std::make_unique<DaemonOracle>(*oracle_);
      s.context = at + " cut=" + std::to_string(pick) + " (whole daemon restarted)";
      samples_.push_back(std::move(s));
    }
  }

  const RunSpec spec_;
  DaemonOracle* const oracle_;
  Findings* const findings_;
  std::atomic<bool> crash_requested_{false};
  std::atomic<bool> crash_taken_{false};

  std::mutex mu_;  // guards everything below
  bool active_ = false;
  uint32_t boot_ = 0;
  DurableLog* log_ = nullptr;
  test::FakeBroker* broker_ = nullptr;
  size_t log_seen_ = 0;
  size_t broker_seen_ = 0;
  std::unique_ptr<SimFileSystem> crash_image_;
  std::vector<RestartSample> samples_;
  uint64_t images_ = 0;
  uint64_t snapshots_ = 0;
};

// While producers run: block and unblock the broker, drop its connection; for boot 1, ask for
// the crash once `crash_after_answers` answers were read (then the boot ends).
void DriveBoot(const RunSpec& spec, uint32_t boot, Producers* producers, test::FakeBroker* broker,
               Snapshotter* snap, int64_t crash_after_answers) {
  uint64_t next_action = 10;
  for (int step = 0; !producers->done() && !snap->crash_taken(); step++) {
    const uint64_t answers = producers->answers();
    if (answers >= next_action) {
      const uint64_t r = Mix(spec.seed, boot, 7, static_cast<uint64_t>(step));
      switch (r % 6) {
        case 0:
          broker->Block(true);  // the ring fills: ring_full (reject) or drops (drop_oldest)
          break;
        case 1:
        case 2:
          broker->Block(false);
          break;
        case 3:
          broker->DropAfterPublishes(1 + static_cast<int>(r / 8 % 12));  // re-sends follow
          break;
        default:
          break;
      }
      next_action = answers + 10 + r / 64 % 40;
    }
    if (crash_after_answers >= 0 && answers >= static_cast<uint64_t>(crash_after_answers)) {
      snap->RequestCrash();
      crash_after_answers = -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // pacing, not a check
  }
  broker->Block(false);
}

// Boots the whole daemon on a crash image: it must forward everything the producers were
// promised and give new payloads new seqs.
void RestartOnImage(const RunSpec& spec, RestartSample& sample, SocketDir* sockets,
                    Findings* findings, Totals* totals) {
  SimFileSystem& image = *sample.image;
  image.SetFaultMix(MixForCut(sample.cut));
  image.PowerCut(sample.cut);
  const DaemonOracle& oracle = *sample.oracle;
  std::vector<ring::Gap> gaps;
  {
    auto inspect = ring::RingStore::OpenReadOnly(&image, kRingPath);
    if (inspect.ok()) gaps = (*inspect)->PendingGaps();
  }
  const std::string socket = sockets->Next();
  const config::AgentConfig cfg = MakeConfig(spec, socket);
  test::FakeBroker broker;
  broker.Unroutable(kUnroutableKey);
  auto daemon = daemon::AgentDaemon::Start(cfg, &image, broker.NewConnector(1));
  if (!daemon.ok()) {
    findings->Add(&Findings::corrupt, sample.context,
                  "the daemon does not start on the crash image: " + daemon.status().ToString());
    return;
  }
  totals->restarts++;
  bool drained = false;
  for (int waited = 0; waited < kDrainBoundMs && !drained; waited++) {
    drained = (*daemon)->Snapshot().confirm_lag == 0;
    if (!drained) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!drained) {
    findings->Add(&Findings::acked_lost, sample.context,
                  "the restarted daemon did not forward its ring within " +
                      std::to_string(kDrainBoundMs) + " ms (stuck)");
    (void)(*daemon)->Stop(0);
    return;
  }
  // Life goes on: a new payload gets a seq above every seq known before the cut.
  edge_agent_conn* c = nullptr;
  std::string payload = MakeProducerPayload(spec.seed, {kRestartBoot, 0, 0}, 33);
  edge_agent_result r;
  int rc = edge_agent_connect(socket.c_str(), kClientTimeoutMs, &c);
  if (rc == EDGE_AGENT_OK) {
    rc = edge_agent_send(c, "telemetry", nullptr, 0, payload.data(), payload.size(), 0, &r);
  }
  edge_agent_close(c);
  if (rc != EDGE_AGENT_OK) {
    findings->Add(
        &Findings::corrupt, sample.context,
        std::string("the restarted daemon refused a new payload: ") + edge_agent_strerror(rc));
  } else if (r.seq <= oracle.max_seq()) {
    findings->Add(&Findings::reused_seq, sample.context,
                  "the restarted daemon gave a new payload seq " + std::to_string(r.seq) +
                      ", not above seq " + std::to_string(oracle.max_seq()) + " known before");
  }
  (void)(*daemon)->Stop(kDrainBoundMs);
  daemon->reset();  // the daemon and its handles are gone; the image is read alone
  std::vector<publish::DeadLetter> dead;
  auto entries = publish::DeadLetterFile::ReadAll(&image, kDeadLetterPath);
  if (entries.ok()) dead = std::move(entries).value();
  oracle.CheckDelivered(broker.received(), dead, gaps, sample.context, findings,
                        &totals->redelivered);
}

// One workload: boot 1 cut for good at a random moment, boot 2 on that crash image to the end,
// every I/O point of both observed, then the sampled images booted.
void RunWorkload(const RunSpec& spec, SocketDir* sockets, Totals* totals) {
  Findings findings;
  const config::AgentConfig probe = MakeConfig(spec, "/unused");
  DaemonOracle oracle(spec.seed, LayoutFor(probe));
  Snapshotter snap(spec, &oracle, &findings);
  const uint64_t planned = static_cast<uint64_t>(spec.producers) * spec.payloads_per_producer;
  const int64_t crash_after = static_cast<int64_t>(Mix(spec.seed, 5) % (planned + planned / 4));

  // Boot 1: the ring is created on an empty disk.
  SimFileSystem fs1(Mix(spec.seed, 6));
  DurableLog log1;
  test::FakeBroker broker1;
  broker1.Unroutable(kUnroutableKey);
  snap.Follow(&fs1, 1, &log1, &broker1);
  const std::string socket1 = sockets->Next();
  {
    auto daemon =
        daemon::AgentDaemon::Start(MakeConfig(spec, socket1), &fs1, broker1.NewConnector(1));
    ASSERT_TRUE(daemon.ok()) << daemon.status().ToString();
    Producers producers(spec, 1, socket1, &log1);
    producers.Start();
    DriveBoot(spec, 1, &producers, &broker1, &snap, crash_after);
    producers.Stop();
    totals->AddBoot((*daemon)->Snapshot(), producers);
    (void)(*daemon)->Stop(0);
  }
  snap.RequestCrash();  // when the run ended before its crash point: the end is the crash
  snap.Quiesce(&fs1);
  std::unique_ptr<SimFileSystem> fs2 = snap.TakeCrashImage();
  ASSERT_NE(fs2, nullptr);

  // Boot 2: the whole start-up on the crash image, observed from its first I/O.
  const uint64_t cut = Mix(spec.seed, 8);
  fs2->SetFaultMix(MixForCut(cut));
  fs2->PowerCut(cut);
  DurableLog log2;
  test::FakeBroker broker2;
  broker2.Unroutable(kUnroutableKey);
  snap.Follow(fs2.get(), 2, &log2, &broker2);
  const std::string socket2 = sockets->Next();
  {
    auto daemon =
        daemon::AgentDaemon::Start(MakeConfig(spec, socket2), fs2.get(), broker2.NewConnector(1));
    if (!daemon.ok()) {
      findings.Add(
          &Findings::corrupt, spec.Describe() + " boot=2 cut=" + std::to_string(cut),
          "the daemon does not start on the crash image of boot 1: " + daemon.status().ToString());
    } else {
      Producers producers(spec, 2, socket2, &log2);
      producers.Start();
      DriveBoot(spec, 2, &producers, &broker2, &snap, -1);
      producers.Stop();
      (void)(*daemon)->Stop(kDrainBoundMs);
      const ops::StatusSnapshot st = (*daemon)->Snapshot();
      totals->AddBoot(st, producers);
      totals->dropped += st.dropped_total;  // persisted across boots: counts both
    }
  }
  snap.Quiesce(fs2.get());

  for (RestartSample& sample : snap.TakeSamples()) {
    RestartOnImage(spec, sample, sockets, &findings, totals);
  }
  totals->images += snap.images();
  totals->snapshots += snap.snapshots();
  totals->runs++;
  totals->findings.Merge(findings);
  for (const std::string& p : findings.problems) ADD_FAILURE() << p;
}

class SummaryLine : public ::testing::Environment {
 public:
  void TearDown() override {
    const Totals& t = GlobalTotals();
    std::printf(
        "daemon-powercut: runs=%llu snapshots=%llu images=%llu restarts=%llu acked_lost=%llu "
        "corrupt=%llu reused_seq=%llu\n",
        static_cast<unsigned long long>(t.runs), static_cast<unsigned long long>(t.snapshots),
        static_cast<unsigned long long>(t.images), static_cast<unsigned long long>(t.restarts),
        static_cast<unsigned long long>(t.findings.acked_lost),
        static_cast<unsigned long long>(t.findings.corrupt),
        static_cast<unsigned long long>(t.findings.reused_seq));
    std::fflush(stdout);
    if (t.runs == 0) return;
    test::PrintReliabilityLine(
        {.suite = "daemon-powercut",
         .family = "powercut",
         .count = t.images,
         .records = t.findings.records_checked,
         .lost = t.findings.acked_lost + t.findings.corrupt,
         .duplicates = t.redelivered,
         .injects = "power cut at every mutating I/O of the running daemon (intake, ring, "
                    "publisher to a fake broker that blocks, drops and returns) in two boots, "
                    "each image cut 4 ways (torn, reordered, zeroed, garbage sectors), "
                    "recovered and checked; sampled images booted as a whole daemon",
         .reproduce = "EDGE_DAEMON_POWERCUT_IMAGES=100000 ctest -L powercut -R DaemonPowerCut"});
  }
};

const auto* const kSummaryLine = ::testing::AddGlobalTestEnvironment(new SummaryLine);

TEST(DaemonPowerCut, KeepsEveryDurableAnswerWhenPowerFailsAtEveryIoPointOfTheWholePath) {
  ops::SetLogLevel(ops::LogLevel::kError);
  const auto started = std::chrono::steady_clock::now();
  Totals& totals = GlobalTotals();
  SocketDir sockets;
  const uint64_t budget = ImageBudget();
  const uint64_t only = EnvNumber("EDGE_DAEMON_POWERCUT_SEED", 0);
  for (uint64_t w = only != 0 ? only : 1; totals.images < budget; w++) {
    const RunSpec spec = SpecFor(w);
    RunWorkload(spec, &sockets, &totals);
    // One workload's findings are enough to investigate; more would only take time.
    if (only != 0 || HasFatalFailure() || !totals.findings.clean()) break;
  }
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr,
               "daemon power cuts: %llu runs, %llu snapshots, %llu images, %llu restarts in "
               "%.1f s; producers got %llu durable and %llu ring_full answers; daemons "
               "confirmed %llu, dead-lettered %llu, dropped %llu, reconnected %llu times; %llu "
               "records checked; %llu re-sent after restarts\n",
               static_cast<unsigned long long>(totals.runs),
               static_cast<unsigned long long>(totals.snapshots),
               static_cast<unsigned long long>(totals.images),
               static_cast<unsigned long long>(totals.restarts), s,
               static_cast<unsigned long long>(totals.durable_answers),
               static_cast<unsigned long long>(totals.ring_full_answers),
               static_cast<unsigned long long>(totals.confirmed),
               static_cast<unsigned long long>(totals.dead_lettered),
               static_cast<unsigned long long>(totals.dropped),
               static_cast<unsigned long long>(totals.reconnects),
               static_cast<unsigned long long>(totals.findings.records_checked),
               static_cast<unsigned long long>(totals.redelivered));
  EXPECT_EQ(totals.findings.acked_lost, 0u);
  EXPECT_EQ(totals.findings.corrupt, 0u);
  EXPECT_EQ(totals.findings.reused_seq, 0u);
  EXPECT_GT(totals.durable_answers, 0u) << "no producer ever got a durable answer";
  if (totals.runs >= 3) {  // coverage: what a few runs always reach
    EXPECT_GT(totals.restarts, 0u) << "no crash image was booted as a whole daemon";
    EXPECT_GT(totals.dead_lettered, 0u) << "nothing went through the dead-letter file";
    EXPECT_GT(totals.reconnects, 0u) << "the broker connection never dropped";
  }
}

}  // namespace
}  // namespace edge::powercut
