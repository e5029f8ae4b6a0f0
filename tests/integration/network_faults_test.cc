// Forwarding over a bad network, end to end: a real ring on a real file, the real Publisher over
// TLS to a real RabbitMQ node, FaultProxies in between (tests/support/fault_proxy.h), and a
// plaintext consumer straight to the broker reading everything back at the end.
//
//   SlowPath:  the path gets 200 ms of latency each way, then is throttled to 4 KiB/s each
//              way, while producers keep appending; in each state the path is also cut once, so
//              the agent reconnects (TLS handshake, login, re-send) through the slow path.
//   Endpoints: the agent's endpoint list is [a closed port, a proxy that blackholes, a proxy
//              that works]: it must reach the one that is up. Then the working one goes silent
//              and the other comes back, then that one is cut and the first comes back: the
//              agent follows each time by itself.
//   Restart:   the broker is killed -9 and restarted behind a path with 200 ms latency.
//
// EDGE_NETWORK_FAULT_ROUNDS=N repeats each test's fault sequence N times (default 1) for long
// runs.
//
// What the user relies on, asserted here: every record the ring answered `durable` for
// arrives byte for byte; per route, first deliveries come in seq order; duplicates stay within
// one confirm window per fault (promises 2 and 3). Cuts and blackholes alone are
// forward_faults_test; a cluster node kill is cluster_failover_test.
// No timing threshold: the bounds below are "does it finish at all", far above normal runs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "agent/envelope/envelope.h"
#include "agent/publish/dead_letter_file.h"
#include "agent/publish/publisher.h"
#include "agent/publish/rabbit_session.h"
#include "agent/ring/ring.h"
#include "port/file.h"
#include "tests/support/broker_fixture.h"
#include "tests/support/delivery_check.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/loopback.h"
#include "tests/support/queue_drain.h"
#include "tests/support/reliability_line.h"
#include "tests/support/shared_broker_test.h"

namespace edge {
namespace {

using Clock = std::chrono::steady_clock;
using test::BrokerFixture;
using test::FaultProxy;
using namespace std::chrono_literals;

constexpr const char* kAgentId = "gw-network";
constexpr int kRoutes = 2;
constexpr uint32_t kConfirmWindow = 128;
constexpr int kLatencyMs = 200;                // each way
constexpr uint64_t kThrottleBytesPerS = 4096;  // each way
int Rounds() {
  const char* v = std::getenv("EDGE_NETWORK_FAULT_ROUNDS");
  const int n = v != nullptr ? std::atoi(v) : 0;
  return n > 0 ? n : 1;
}

// "Did it finish at all" bounds.
constexpr auto kBound = 120s;
constexpr int kIdleBoundMs = 300000;

// Deterministic binary payloads, 1..1200 bytes.
std::string PayloadFor(uint64_t index) {
  std::mt19937 rng(static_cast<uint32_t>(index * 2654435761u + 17));
  std::string p(1 + rng() % 1200, '\0');
  for (char& c : p) c = static_cast<char>(rng() & 0xff);
  return p;
}

std::string RouteName(uint64_t index) { return "route-" + std::to_string(index % kRoutes); }

// Waits until cond holds or bound passes; true when it held. Not a timing assertion.
template <typename F>
bool WaitUntil(F cond, Clock::duration bound = kBound) {
  const auto deadline = Clock::now() + bound;
  while (!cond()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

// The agent's forwarding half in-process: ring, dead-letter file, publisher, topology with one
// queue and kRoutes routes, and a producer thread appending paced records until stopped.
class Forwarder {
 public:
  Forwarder(const std::string& dir, const std::string& name) : dir_(dir), name_(name) {}
  ~Forwarder() {
    StopProducing();
    if (publisher_) publisher_->Stop();
  }
  std::string queue() const { return "edge-net-q-" + name_ + "-" + std::to_string(::getpid()); }
  std::string exchange() const { return "edge-net-x-" + name_ + "-" + std::to_string(::getpid()); }

  // endpoints: in the order the agent tries them. Heartbeat 2 s: the pump's watchdog gives up
  // on a silent path after 5 s.
  Status Start(const BrokerFixture& broker, const std::vector<uint16_t>& ports) {
    ring::RingOptions ro;
    ro.file_bytes = 16ull << 20;
    auto ring = ring::Ring::Open(port::FileSystem::Posix(), dir_ + "/ring-" + name_, ro);
    if (!ring.ok()) return ring.status();
    ring_ = std::move(ring).value();
    auto dlf = publish::DeadLetterFile::Open(port::FileSystem::Posix(), dir_ + "/dead-" + name_);
    if (!dlf.ok()) return dlf.status();
    dlf_ = std::move(dlf).value();

    std::vector<amqp::Endpoint> endpoints;
    for (uint16_t port : ports) {
      amqp::Endpoint e;
      e.host = "127.0.0.1";
      e.port = port;
      e.server_name = "localhost";  // the certificate's name; verification stays on
      e.ca_file = broker.certs().ca();
      e.user = broker.user();
      e.password = broker.password();
      e.heartbeat_s = 2;
      e.connect_timeout_ms = 3000;
      e.handshake_timeout_ms = 5000;
      e.login_timeout_ms = 10000;
      e.rpc_timeout_ms = 10000;
      e.connection_name = "edge-agent network faults test";
      endpoints.push_back(e);
    }
    publish::Topology topology;
    topology.exchanges.push_back({exchange(), "direct", true});
    publish::QueueSpec qs;
    qs.name = queue();
    topology.queues.push_back(qs);
    publish::PublisherOptions po;
    po.agent_id = kAgentId;
    po.confirm_window = kConfirmWindow;
    po.backoff_initial_ms = 100;
    po.backoff_max_ms = 1000;
    for (int r = 0; r < kRoutes; r++) {
      const std::string key = "k" + std::to_string(r);
      topology.bindings.push_back({queue(), exchange(), key});
      po.routes[RouteName(r)] = publish::Route{RouteName(r), exchange(), key, "application/x-test"};
    }
    connector_ = std::make_unique<publish::RabbitConnector>(endpoints, topology);
    publisher_ =
        std::make_unique<publish::Publisher>(ring_.get(), connector_.get(), dlf_.get(), po);
    publisher_->Start();
    return Status::Ok();
  }

  // Appends a record every `pace` until StopProducing().
  void StartProducing(std::chrono::milliseconds pace) {
    producer_ = std::thread([this, pace] {
      for (uint64_t i = 0; !stop_; i++) {
        envelope::Envelope env;
        env.route = RouteName(i);
        env.accepted_at_ms = 1700000000000;
        env.payload = PayloadFor(i);
        auto seq = ring_->Append(envelope::Encode(env));
        if (!seq.ok()) {
          append_failures_++;
        } else {
          std::lock_guard<std::mutex> l(mu_);
          expected_[*seq] = test::ExpectedRecord{env.route, env.payload};
        }
        std::this_thread::sleep_for(pace);
      }
    });
  }
  void StopProducing() {
    stop_ = true;
    if (producer_.joinable()) producer_.join();
  }

  publish::Publisher& publisher() { return *publisher_; }
  ring::Ring& ring() { return *ring_; }
  int append_failures() const { return append_failures_; }
  std::map<uint64_t, test::ExpectedRecord> expected() const {
    std::lock_guard<std::mutex> l(mu_);
    return expected_;
  }
  size_t appended() const {
    std::lock_guard<std::mutex> l(mu_);
    return expected_.size();
  }

  // True when the current session goes through 127.0.0.1:port.
  bool ConnectedVia(uint16_t port) const {
    const publish::PublisherStats s = publisher_->stats();
    return s.connected && s.endpoint.find(":" + std::to_string(port) + "/") != std::string::npos;
  }

 private:
  const std::string dir_;
  const std::string name_;
  std::unique_ptr<ring::Ring> ring_;
  std::unique_ptr<publish::DeadLetterFile> dlf_;
  std::unique_ptr<publish::RabbitConnector> connector_;
  std::unique_ptr<publish::Publisher> publisher_;
  std::thread producer_;
  std::atomic<bool> stop_{false};
  std::atomic<int> append_failures_{0};
  mutable std::mutex mu_;
  std::map<uint64_t, test::ExpectedRecord> expected_;  // guarded by mu_
};

class NetworkFaultsTest : public test::SharedBrokerTest<NetworkFaultsTest> {
 protected:
  void SetUp() override {
    SharedBrokerTest::SetUp();
    if (HasFatalFailure()) return;
    char tmpl[] = "/tmp/edge-network-faults-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  // Stops producing, waits until everything durable is confirmed, reads the queue back and
  // checks it; prints the RELIABILITY line for `suite`.
  void FinishAndCheck(Forwarder& f, const std::string& suite, uint64_t faults,
                      const std::string& injects) {
    f.StopProducing();
    ASSERT_EQ(f.append_failures(), 0);
    ASSERT_TRUE(f.publisher().WaitIdle(kIdleBoundMs))
        << "publisher did not finish: " << f.publisher().stats().last_error;
    const publish::PublisherStats ps = f.publisher().stats();
    f.publisher().Stop();
    const auto expected = f.expected();
    test::DrainOptions d;
    d.port = broker_->amqp_port();
    d.user = broker_->user();
    d.password = broker_->password();
    d.queue = f.queue();
    d.want = expected.size();
    std::vector<test::ConsumedMessage> got;
    Status s = test::DrainQueue(d, &got);
    ASSERT_TRUE(s.ok()) << s.ToString();
    const test::DeliveryReport r = test::CheckDeliveries(kAgentId, expected, got);
    for (const std::string& p : r.problems) ADD_FAILURE() << p;
    std::printf(
        "%s: records=%llu delivered=%llu lost=%llu duplicates=%llu unexpected=%llu corrupt=%llu "
        "out_of_order=%llu faults=%llu reconnects=%llu connect_failures=%llu published=%llu\n",
        suite.c_str(), static_cast<unsigned long long>(r.records),
        static_cast<unsigned long long>(r.delivered), static_cast<unsigned long long>(r.lost),
        static_cast<unsigned long long>(r.duplicates),
        static_cast<unsigned long long>(r.unexpected), static_cast<unsigned long long>(r.corrupt),
        static_cast<unsigned long long>(r.out_of_order), static_cast<unsigned long long>(faults),
        static_cast<unsigned long long>(ps.reconnects),
        static_cast<unsigned long long>(ps.connect_failures),
        static_cast<unsigned long long>(ps.published));
    test::PrintReliabilityLine(
        {suite, "torture", faults, r.records, r.lost, r.duplicates, injects,
         "EDGE_NETWORK_FAULT_ROUNDS=" + std::to_string(Rounds()) +
             " ctest --test-dir build/native -R network_faults_test --output-on-failure"});
    EXPECT_GT(r.records, 0u);
    EXPECT_EQ(r.lost, 0u);
    EXPECT_EQ(r.unexpected, 0u);
    EXPECT_EQ(r.corrupt, 0u);
    EXPECT_EQ(r.out_of_order, 0u);
    EXPECT_LE(r.duplicates, static_cast<uint64_t>(kConfirmWindow) * faults)
        << "duplicates beyond one unconfirmed window per fault";
    EXPECT_EQ(ps.confirmed, r.records);
    EXPECT_EQ(ps.dead_lettered, 0u);
    EXPECT_EQ(f.ring().store().head().seq, f.ring().store().next_seq());
  }

  std::string dir_;
};

TEST_F(NetworkFaultsTest, DeliversEverythingThroughLatencyThrottlingAndCutsOnTheSlowPath) {
  auto proxy = FaultProxy::Start(broker_->amqps_port());
  ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
  FaultProxy& p = **proxy;
  Forwarder f(dir_, "slow");
  Status s = f.Start(*broker_, {p.port()});
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(WaitUntil([&] { return f.publisher().stats().connected; }))
      << f.publisher().stats().last_error;
  f.StartProducing(5ms);

  // Each slow state: let records flow through it, cut the path once (the agent reconnects
  // through the slow path: TCP, TLS handshake, login, declares, re-send), and let records flow
  // again on the new session.
  struct SlowState {
    const char* name;
    std::function<void()> apply;
  };
  const std::vector<SlowState> states = {
      {"latency 200 ms each way", [&] { p.Delay(kLatencyMs); }},
      {"throttled to 4 KiB/s each way", [&] { p.Throttle(kThrottleBytesPerS); }},
  };
  uint64_t faults = 0;
  for (int round = 0; round < Rounds(); round++) {
    for (const SlowState& st : states) {
      st.apply();
      const uint64_t confirmed = f.publisher().stats().confirmed;
      ASSERT_TRUE(WaitUntil([&] { return f.publisher().stats().confirmed > confirmed + 20; }))
          << "no progress " << st.name << ": " << f.publisher().stats().last_error;
      const uint64_t reconnects = f.publisher().stats().reconnects;
      p.Cut();
      std::this_thread::sleep_for(300ms);
      st.apply();
      faults += 2;  // the slow state and the cut
      ASSERT_TRUE(WaitUntil([&] {
        const publish::PublisherStats ps = f.publisher().stats();
        return ps.connected && ps.reconnects > reconnects;
      })) << "no reconnect "
          << st.name << ": " << f.publisher().stats().last_error;
      const uint64_t after = f.publisher().stats().confirmed;
      ASSERT_TRUE(WaitUntil([&] { return f.publisher().stats().confirmed > after + 20; }))
          << "no progress after reconnecting " << st.name << ": "
          << f.publisher().stats().last_error;
      std::printf("[ slow     ] %s: cut, reconnected, %llu confirmed\n", st.name,
                  static_cast<unsigned long long>(f.publisher().stats().confirmed));
      std::fflush(stdout);
    }
  }
  p.Pass();
  const test::FaultProxyStats ps = p.stats();
  EXPECT_GE(ps.cut, 2u * static_cast<uint64_t>(Rounds())) << "each cut must hit a live connection";
  FinishAndCheck(f, "network-slow-path", faults,
                 "200 ms latency each way, then 4 KiB/s each way, a path cut in each state");
}

TEST_F(NetworkFaultsTest, ReachesAnEndpointThatIsUpWhileOthersAreDownOrSilent) {
  // Endpoint 0: a port nobody listens on (refused at once). Endpoint 1: a proxy that
  // blackholes (the TCP connect succeeds, then silence until the handshake timeout).
  // Endpoint 2: a proxy that works.
  auto closed = test::PickFreePort();
  ASSERT_TRUE(closed.ok()) << closed.status().ToString();
  auto silent = FaultProxy::Start(broker_->amqps_port());
  auto good = FaultProxy::Start(broker_->amqps_port());
  ASSERT_TRUE(silent.ok() && good.ok());
  FaultProxy& a = **silent;
  FaultProxy& b = **good;
  a.Blackhole();
  Forwarder f(dir_, "endpoints");
  Status s = f.Start(*broker_, {*closed, a.port(), b.port()});
  ASSERT_TRUE(s.ok()) << s.ToString();
  f.StartProducing(5ms);
  uint64_t faults = 0;

  ASSERT_TRUE(WaitUntil([&] { return f.ConnectedVia(b.port()); }))
      << "never reached the endpoint that is up: " << f.publisher().stats().last_error;
  EXPECT_GE(f.publisher().stats().connect_failures, 2u) << "the first two must have failed";
  auto progress = [&] {
    const uint64_t c = f.publisher().stats().confirmed;
    return WaitUntil([&] { return f.publisher().stats().confirmed > c + 50; });
  };
  ASSERT_TRUE(progress()) << f.publisher().stats().last_error;
  std::printf("[ endpoint ] reached endpoint 2 past a closed port and a blackhole\n");

  for (int round = 0; round < Rounds(); round++) {
    // The working path goes silent (a dead NAT entry) and endpoint 1 comes back: the watchdog
    // notices the silence, and the agent goes round the list (0 is still refused) to
    // endpoint 1.
    a.Pass();
    b.Blackhole();
    faults++;
    ASSERT_TRUE(WaitUntil([&] { return f.ConnectedVia(a.port()); }))
        << "did not move to endpoint 1: " << f.publisher().stats().last_error;
    ASSERT_TRUE(progress()) << f.publisher().stats().last_error;
    std::printf("[ endpoint ] endpoint 2 went silent: moved to endpoint 1\n");

    // Endpoint 1 is cut (resets, and refuses new connections) and endpoint 2 comes back.
    b.Pass();
    a.Cut();
    faults++;
    ASSERT_TRUE(WaitUntil([&] { return f.ConnectedVia(b.port()); }))
        << "did not move back to endpoint 2: " << f.publisher().stats().last_error;
    ASSERT_TRUE(progress()) << f.publisher().stats().last_error;
    std::printf("[ endpoint ] endpoint 1 was cut: moved to endpoint 2\n");
    std::fflush(stdout);
  }

  FinishAndCheck(f, "network-endpoint-failover", faults,
                 "endpoint list with a closed port and a blackholing proxy before the working "
                 "one; then the working path blackholed, then the other one cut");
}

TEST_F(NetworkFaultsTest, DeliversEverythingWhenTheBrokerIsKilledAndRestartedBehindASlowPath) {
  auto proxy = FaultProxy::Start(broker_->amqps_port());
  ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
  FaultProxy& p = **proxy;
  p.Delay(kLatencyMs);
  Forwarder f(dir_, "restart");
  Status s = f.Start(*broker_, {p.port()});
  ASSERT_TRUE(s.ok()) << s.ToString();
  f.StartProducing(5ms);
  uint64_t kills = 0;
  for (int round = 0; round < Rounds(); round++) {
    const uint64_t confirmed = f.publisher().stats().confirmed;
    ASSERT_TRUE(WaitUntil([&] {
      const publish::PublisherStats ps = f.publisher().stats();
      return ps.connected && ps.confirmed > confirmed + 100;
    })) << "no progress: "
        << f.publisher().stats().last_error;
    const uint64_t reconnects = f.publisher().stats().reconnects;
    broker_->KillHard();
    kills++;
    Status up = broker_->Restart();
    ASSERT_TRUE(up.ok()) << up.ToString();
    ASSERT_TRUE(WaitUntil([&] {
      const publish::PublisherStats ps = f.publisher().stats();
      return ps.connected && ps.reconnects > reconnects;
    })) << "no reconnect after the broker restart: "
        << f.publisher().stats().last_error;
    std::printf("[ restart  ] broker killed -9 and restarted: reconnected through the slow path\n");
    std::fflush(stdout);
  }
  p.Pass();
  FinishAndCheck(f, "network-broker-restart", kills,
                 "broker kill -9 and restart while the path has 200 ms latency each way");
}

}  // namespace
}  // namespace edge
