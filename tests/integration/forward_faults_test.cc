// Forwarding through a broken network path, end to end: a real ring on a real file, the real
// Publisher over TLS to a real RabbitMQ node, and a FaultProxy between them that cuts the path
// (TCP resets) and blackholes it (silence, like a dead NAT entry) several times while producers
// keep appending. A plaintext consumer straight to the broker reads everything back.
//
// What the user relies on, asserted here:
//   - every record the ring answered `durable` for arrives, byte for byte (promise 2);
//   - per route, first deliveries come in seq order (promise 2);
//   - duplicates exist only because of the unconfirmed window at each fault, and carry the same
//     message_id "<agent_id>:<seq>" so a consumer can drop them (promise 3);
//   - the publisher notices each fault by itself (reset, or the watchdog on silence) and
//     reconnects without anyone's help.
// No timing threshold: the bounds below are "does it finish at all", far above normal runs.
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
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
#include "tests/support/fault_proxy.h"
#include "tests/support/reliability_line.h"
#include "tests/support/shared_broker_test.h"

namespace edge {
namespace {

using Clock = std::chrono::steady_clock;
using test::BrokerFixture;
using test::FaultProxy;

constexpr const char* kAgentId = "gw-faults";
constexpr int kRecords = 10000;
constexpr int kProducers = 2;
constexpr int kRoutes = 3;
constexpr uint32_t kConfirmWindow = 256;
// Producers spread their appends over about this long, so faults hit a live stream.
constexpr int kProduceSpanMs = 40000;
constexpr auto kBlackholeFor = std::chrono::seconds(10);
constexpr auto kCutFor = std::chrono::milliseconds(500);
// "Did it finish at all" bounds: far above a normal run, far below a hang.
constexpr auto kReconnectBound = std::chrono::seconds(120);
constexpr int kIdleBoundMs = 300000;

// Deterministic, binary payloads (zeros and high bytes included), 1..1500 bytes, so a changed,
// truncated or swapped byte shows up.
std::string PayloadFor(int producer, int index) {
  std::mt19937 rng(static_cast<uint32_t>(producer * 1000003 + index));
  std::string p(1 + rng() % 1500, '\0');
  for (char& c : p) c = static_cast<char>(rng() & 0xff);
  return p;
}

std::string RouteName(int index) { return "route-" + std::to_string(index % kRoutes); }

// What a producer got a `durable` answer for.
struct Expected {
  std::string route;
  std::string payload;
};

// One message as the consumer received it.
struct Delivery {
  std::string message_id;
  std::string route;     // x-edge-route
  std::string seq_text;  // x-edge-seq
  std::string body;
};

std::string ToString(amqp_bytes_t b) {
  return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}

std::string HeaderValue(const amqp_table_t& table, const std::string& key) {
  for (int i = 0; i < table.num_entries; i++) {
    const amqp_table_entry_t& e = table.entries[i];
    if (ToString(e.key) != key) continue;
    if (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES) {
      return ToString(e.value.value.bytes);
    }
  }
  return "";
}

// A consumer with rabbitmq-c, plaintext, straight to the broker (not through the proxy), manual
// acks. Runs on its own thread; the connection is used by that thread only.
class PlainConsumer {
 public:
  PlainConsumer(uint16_t port, std::string user, std::string password, std::string queue)
      : port_(port),
        user_(std::move(user)),
        password_(std::move(password)),
        queue_(std::move(queue)) {}
  ~PlainConsumer() { Stop(); }

  // Connects, declares the queue (durable, as the publisher's topology does) and starts
  // consuming. Returns once consuming began or failed.
  Status Start() {
    Status s = Connect();
    if (!s.ok()) return s;
    consuming_ = true;
    thread_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (conn_ != nullptr) {
      if (consuming_) {  // polite close only on a connection that got that far
        amqp_channel_close(conn_, 1, AMQP_REPLY_SUCCESS);
        amqp_connection_close(conn_, AMQP_REPLY_SUCCESS);
      }
      amqp_destroy_connection(conn_);
      conn_ = nullptr;
    }
  }

  std::vector<Delivery> deliveries() const {
    std::lock_guard<std::mutex> l(mu_);
    return deliveries_;
  }
  size_t count() const {
    std::lock_guard<std::mutex> l(mu_);
    return deliveries_.size();
  }
  Clock::time_point last_delivery() const {
    std::lock_guard<std::mutex> l(mu_);
    return last_;
  }
  std::string error() const {
    std::lock_guard<std::mutex> l(mu_);
    return error_;
  }

 private:
  static Status Check(amqp_rpc_reply_t r, const std::string& what) {
    if (r.reply_type == AMQP_RESPONSE_NORMAL) return Status::Ok();
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
      return Status::Unavailable(what + ": " + amqp_error_string2(r.library_error));
    }
    return Status::Unavailable(what + ": broker refused (method " + std::to_string(r.reply.id) +
                               ")");
  }

  Status Connect() {
    conn_ = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(conn_);
    if (socket == nullptr || amqp_socket_open(socket, "127.0.0.1", port_) != AMQP_STATUS_OK) {
      return Status::Unavailable("consumer: cannot connect to 127.0.0.1:" + std::to_string(port_));
    }
    EDGE_RETURN_IF_ERROR(Check(amqp_login(conn_, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                                          user_.c_str(), password_.c_str()),
                               "consumer login"));
    amqp_channel_open(conn_, 1);
    EDGE_RETURN_IF_ERROR(Check(amqp_get_rpc_reply(conn_), "consumer channel.open"));
    amqp_queue_declare(conn_, 1, amqp_cstring_bytes(queue_.c_str()), 0, /*durable=*/1, 0, 0,
                       amqp_empty_table);
    EDGE_RETURN_IF_ERROR(Check(amqp_get_rpc_reply(conn_), "consumer queue.declare"));
    amqp_basic_qos(conn_, 1, 0, 1000, 0);
    EDGE_RETURN_IF_ERROR(Check(amqp_get_rpc_reply(conn_), "consumer basic.qos"));
    amqp_basic_consume(conn_, 1, amqp_cstring_bytes(queue_.c_str()), amqp_empty_bytes, 0,
                       /*no_ack=*/0, 0, amqp_empty_table);
    return Check(amqp_get_rpc_reply(conn_), "consumer basic.consume");
  }

  void Loop() {
    while (!stop_) {
      amqp_maybe_release_buffers(conn_);
      amqp_envelope_t env;
      timeval tv{0, 200000};
      amqp_rpc_reply_t r = amqp_consume_message(conn_, &env, &tv, 0);
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
          r.library_error == AMQP_STATUS_TIMEOUT) {
        continue;
      }
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        std::lock_guard<std::mutex> l(mu_);
        error_ = Check(r, "consume").ToString();
        return;
      }
      Delivery d;
      const amqp_basic_properties_t& p = env.message.properties;
      if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) d.message_id = ToString(p.message_id);
      if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
        d.route = HeaderValue(p.headers, "x-edge-route");
        d.seq_text = HeaderValue(p.headers, "x-edge-seq");
      }
      d.body = ToString(env.message.body);
      const uint64_t tag = env.delivery_tag;
      amqp_destroy_envelope(&env);
      // Acked only after it is recorded: what the test saw is exactly what left the queue.
      {
        std::lock_guard<std::mutex> l(mu_);
        deliveries_.push_back(std::move(d));
        last_ = Clock::now();
      }
      if (amqp_basic_ack(conn_, 1, tag, 0) != AMQP_STATUS_OK) {
        std::lock_guard<std::mutex> l(mu_);
        error_ = "basic.ack failed";
        return;
      }
    }
  }

  const uint16_t port_;
  const std::string user_;
  const std::string password_;
  const std::string queue_;
  amqp_connection_state_t conn_ = nullptr;  // consumer thread only, once started
  bool consuming_ = false;                  // test thread: Start() succeeded
  std::atomic<bool> stop_{false};
  std::thread thread_;

  mutable std::mutex mu_;
  std::vector<Delivery> deliveries_;       // guarded by mu_, in delivery order
  Clock::time_point last_ = Clock::now();  // guarded by mu_
  std::string error_;                      // guarded by mu_
};

class ForwardFaultsTest : public test::SharedBrokerTest<ForwardFaultsTest> {
 protected:
  void SetUp() override {
    SharedBrokerTest::SetUp();
    if (HasFatalFailure()) return;
    char tmpl[] = "/tmp/edge-forward-faults-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  // Waits until cond holds or bound passes; true when it held. Not a timing assertion.
  template <typename F>
  static bool WaitUntil(F cond, Clock::duration bound) {
    const auto deadline = Clock::now() + bound;
    while (!cond()) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
  }

  std::string dir_;
};

TEST_F(ForwardFaultsTest, DeliversEverythingThroughRepeatedPathCutsAndBlackholes) {
  const std::string suffix = std::to_string(::getpid());
  const std::string exchange = "edge-faults-x-" + suffix;
  const std::string queue = "edge-faults-q-" + suffix;

  ring::RingOptions ro;
  ro.file_bytes = 32ull << 20;  // room for all 10,000 records even if nothing were forwarded
  auto ring = ring::Ring::Open(port::FileSystem::Posix(), dir_ + "/ring", ro);
  ASSERT_TRUE(ring.ok()) << ring.status().ToString();
  auto dlf = publish::DeadLetterFile::Open(port::FileSystem::Posix(), dir_ + "/dead.jsonl");
  ASSERT_TRUE(dlf.ok()) << dlf.status().ToString();
  auto proxy = FaultProxy::Start(broker_->amqps_port());
  ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();

  // TLS through the proxy: the certificate says "localhost", so verification still passes.
  // Heartbeat 2 s: the pump's watchdog gives up on a silent path after 2.5 intervals.
  amqp::Endpoint e;
  e.host = "127.0.0.1";
  e.port = (*proxy)->port();
  e.server_name = "localhost";
  e.ca_file = broker_->certs().ca();
  e.user = broker_->user();
  e.password = broker_->password();
  e.heartbeat_s = 2;
  e.connect_timeout_ms = 3000;
  e.handshake_timeout_ms = 3000;
  e.login_timeout_ms = 5000;
  e.rpc_timeout_ms = 5000;
  e.connection_name = "edge-agent forward faults test";

  publish::Topology topology;
  topology.exchanges.push_back({exchange, "direct", true});
  publish::QueueSpec qs;
  qs.name = queue;
  topology.queues.push_back(qs);
  publish::PublisherOptions po;
  po.agent_id = kAgentId;
  po.confirm_window = kConfirmWindow;
  po.backoff_initial_ms = 100;
  po.backoff_max_ms = 1000;
  for (int r = 0; r < kRoutes; r++) {
    const std::string key = "k" + std::to_string(r);
    topology.bindings.push_back({queue, exchange, key});
    po.routes[RouteName(r)] = publish::Route{RouteName(r), exchange, key, "application/x-test"};
  }

  // The consumer first: it declares the queue, so nothing routed to it can be missed.
  PlainConsumer consumer(broker_->amqp_port(), broker_->user(), broker_->password(), queue);
  Status cs = consumer.Start();
  ASSERT_TRUE(cs.ok()) << cs.ToString();

  publish::RabbitConnector connector({e}, topology);
  publish::Publisher publisher(ring->get(), &connector, dlf->get(), po);
  publisher.Start();

  std::mutex expected_mu;
  std::map<uint64_t, Expected> expected;  // guarded by expected_mu: seq -> what was appended
  std::atomic<int> append_failures{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; p++) {
    producers.emplace_back([&, p] {
      const auto pace = std::chrono::milliseconds(kProduceSpanMs * kProducers / kRecords);
      for (int i = p; i < kRecords; i += kProducers) {
        envelope::Envelope env;
        env.route = RouteName(i);
        env.accepted_at_ms = 1700000000000;
        env.headers = {{"producer", std::to_string(p)}, {"index", std::to_string(i)}};
        env.payload = PayloadFor(p, i);
        auto seq = (*ring)->Append(envelope::Encode(env));
        if (!seq.ok()) {
          append_failures++;
          continue;
        }
        {
          std::lock_guard<std::mutex> l(expected_mu);
          expected[*seq] = Expected{env.route, env.payload};
        }
        std::this_thread::sleep_for(pace);
      }
    });
  }

  // The faults, each against a live session: wait for one, break the path, restore it, and wait
  // until the publisher reconnected by itself.
  enum class Fault { kCut, kBlackhole };
  const std::vector<Fault> schedule = {Fault::kCut,      Fault::kBlackhole, Fault::kCut,
                                       Fault::kCut,      Fault::kBlackhole, Fault::kCut,
                                       Fault::kBlackhole};
  int faults = 0;
  for (Fault f : schedule) {
    ASSERT_TRUE(WaitUntil([&] { return publisher.stats().connected; }, kReconnectBound))
        << "publisher did not connect: " << publisher.stats().last_error;
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // let records flow
    const uint64_t reconnects_before = publisher.stats().reconnects;
    if (f == Fault::kCut) {
      (*proxy)->Cut();
      std::this_thread::sleep_for(kCutFor);
    } else {
      (*proxy)->Blackhole();
      std::this_thread::sleep_for(kBlackholeFor);
    }
    (*proxy)->Pass();
    faults++;
    ASSERT_TRUE(WaitUntil([&] { return publisher.stats().reconnects > reconnects_before; },
                          kReconnectBound))
        << "publisher did not reconnect after fault " << faults << " ("
        << (f == Fault::kCut ? "cut" : "blackhole") << "): " << publisher.stats().last_error;
    std::printf("[ fault    ] %d %s: reconnected (last error: %s)\n", faults,
                f == Fault::kCut ? "cut" : "blackhole", publisher.stats().last_error.c_str());
  }
  for (auto& t : producers) t.join();
  ASSERT_EQ(append_failures.load(), 0);

  // Finishes without help: everything durable gets confirmed, then everything reaches the
  // consumer, then a short quiet period catches late duplicates.
  ASSERT_TRUE(publisher.WaitIdle(kIdleBoundMs))
      << "publisher did not finish: " << publisher.stats().last_error;
  const publish::PublisherStats ps = publisher.stats();
  publisher.Stop();
  std::map<uint64_t, Expected> want;
  {
    std::lock_guard<std::mutex> l(expected_mu);
    want = expected;
  }
  ASSERT_EQ(want.size(), static_cast<size_t>(kRecords));
  auto unique_count = [&] {
    std::map<std::string, int> ids;
    for (const Delivery& d : consumer.deliveries()) ids[d.message_id]++;
    return ids.size();
  };
  EXPECT_TRUE(WaitUntil([&] { return unique_count() >= want.size(); }, kReconnectBound))
      << "consumer error: " << consumer.error();
  WaitUntil([&] { return Clock::now() - consumer.last_delivery() > std::chrono::seconds(2); },
            std::chrono::seconds(60));
  consumer.Stop();
  EXPECT_EQ(consumer.error(), "");

  // Dedupe by message_id; check bytes, route and seq header of every delivery (duplicates
  // included), and per-route order among first deliveries.
  const std::vector<Delivery> got = consumer.deliveries();
  const std::string prefix = std::string(kAgentId) + ":";
  std::map<uint64_t, int> seen;                    // seq -> deliveries
  std::map<std::string, uint64_t> last_first_seq;  // route -> seq of its last first delivery
  int corrupt = 0;
  int unknown = 0;
  int out_of_order = 0;
  for (const Delivery& d : got) {
    if (d.message_id.rfind(prefix, 0) != 0) {
      unknown++;
      continue;
    }
    const uint64_t seq = std::stoull(d.message_id.substr(prefix.size()));
    auto it = want.find(seq);
    if (it == want.end()) {
      unknown++;
      continue;
    }
    if (d.body != it->second.payload || d.route != it->second.route ||
        d.seq_text != std::to_string(seq)) {
      if (corrupt++ < 5) ADD_FAILURE() << "message " << d.message_id << " differs from record";
    }
    if (seen[seq]++ == 0) {
      uint64_t& last = last_first_seq[d.route];
      if (seq <= last && out_of_order++ < 5) {
        ADD_FAILURE() << "route " << d.route << ": seq " << seq << " first arrived after " << last;
      }
      last = std::max(last, seq);
    }
  }
  uint64_t lost = 0;
  for (const auto& [seq, unused] : want) {
    if (seen.count(seq) == 0 && lost++ < 5) ADD_FAILURE() << "record seq " << seq << " lost";
  }
  const uint64_t duplicates = got.size() - seen.size() - static_cast<uint64_t>(unknown);
  const test::FaultProxyStats fs = (*proxy)->stats();
  std::printf(
      "forward_faults: records=%zu lost=%llu duplicates=%llu faults=%d reconnects=%llu "
      "connect_failures=%llu published=%llu proxy_cut=%llu proxy_dropped_bytes=%llu\n",
      want.size(), static_cast<unsigned long long>(lost),
      static_cast<unsigned long long>(duplicates), faults,
      static_cast<unsigned long long>(ps.reconnects),
      static_cast<unsigned long long>(ps.connect_failures),
      static_cast<unsigned long long>(ps.published), static_cast<unsigned long long>(fs.cut),
      static_cast<unsigned long long>(fs.bytes_dropped));
  test::PrintReliabilityLine(
      {"forward-cuts-blackholes", "torture", static_cast<uint64_t>(faults), want.size(), lost,
       duplicates,
       "TCP path cut (resets) and blackholed (10 s of silence) between agent and broker",
       "ctest --test-dir build/native -R forward_faults_test --output-on-failure"});

  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(unknown, 0);
  EXPECT_EQ(corrupt, 0);
  EXPECT_EQ(out_of_order, 0);
  EXPECT_LE(duplicates, static_cast<uint64_t>(kConfirmWindow) * static_cast<uint64_t>(faults))
      << "duplicates beyond the unconfirmed windows";
  EXPECT_GE(ps.reconnects, static_cast<uint64_t>(faults));
  EXPECT_EQ(ps.confirmed, static_cast<uint64_t>(kRecords));
  EXPECT_EQ(ps.dead_lettered, 0u);
  EXPECT_EQ(ps.nacked, 0u);
  EXPECT_EQ(ps.returned, 0u);
  EXPECT_EQ((*ring)->store().head().seq, (*ring)->store().next_seq())
      << "the ring head must have moved over everything confirmed";
  EXPECT_GE(fs.cut, 4u) << "each cut must have hit a live connection";
}

}  // namespace
}  // namespace edge
