// Forwarding end to end against a real RabbitMQ node with TLS: the ring on a real file, the
// publisher with confirms, and a consumer reading back what the broker holds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "agent/envelope/envelope.h"
#include "agent/publish/publisher.h"
#include "agent/publish/rabbit_session.h"
#include "tests/support/broker_fixture.h"
#include "tests/support/consumed_message.h"
#include "tests/support/reliability_line.h"
#include "tests/support/shared_broker_test.h"

namespace edge::publish {
namespace {

using edge::test::BrokerFixture;

using Delivered = edge::test::ConsumedMessage;

class ForwardTest : public test::SharedBrokerTest<ForwardTest> {
 protected:
  void SetUp() override {
    SharedBrokerTest::SetUp();
    if (HasFatalFailure()) return;
    char tmpl[] = "/var/tmp/edge-forward-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (publisher_) publisher_->Stop();
    publisher_.reset();
    ring_.reset();
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  amqp::Endpoint TlsEndpoint() const {
    amqp::Endpoint e;
    e.host = "127.0.0.1";
    e.port = broker_->amqps_port();
    e.server_name = "localhost";
    e.ca_file = broker_->certs().ca();
    e.user = broker_->user();
    e.password = broker_->password();
    e.heartbeat_s = 5;
    e.connect_timeout_ms = 3000;
    e.connection_name = "edge-agent forward test";
    return e;
  }
  amqp::Endpoint PlainEndpoint() const {
    amqp::Endpoint e = TlsEndpoint();
    e.security = port::TransportSecurity::kPlaintext;
    e.port = broker_->amqp_port();
    return e;
  }

  std::string Unique(const std::string& what) const {
    return "edge-fwd-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++);
  }

  // A ring, a dead-letter file, a TLS connector with this topology, and a started publisher.
  void StartAgent(const Topology& topology, const std::map<std::string, Route>& routes,
                  uint64_t ring_bytes, uint32_t window = 256) {
    ring::RingOptions ro;
    ro.file_bytes = ring_bytes;
    auto r = ring::Ring::Open(port::FileSystem::Posix(), dir_ + "/ring", ro);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ring_ = std::move(r).value();
    auto d = DeadLetterFile::Open(port::FileSystem::Posix(), dir_ + "/dead-letters.jsonl");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    dlf_ = std::move(d).value();
    connector_ =
        std::make_unique<RabbitConnector>(std::vector<amqp::Endpoint>{TlsEndpoint()}, topology);
    PublisherOptions po;
    po.agent_id = "gw-test";
    po.routes = routes;
    po.confirm_window = window;
    po.backoff_initial_ms = 200;
    po.backoff_max_ms = 2000;
    po.nack_retries = 1;
    po.nack_retry_delay_ms = 100;
    publisher_ = std::make_unique<Publisher>(ring_.get(), connector_.get(), dlf_.get(), po);
    publisher_->Start();
  }

  uint64_t Append(const std::string& route, const std::string& payload) {
    envelope::Envelope e;
    e.route = route;
    e.accepted_at_ms = 1700000000000;
    e.payload = payload;
    for (;;) {
      auto r = ring_->Append(envelope::Encode(e));
      if (r.ok()) return *r;
      // Back-pressure is the ring's answer when the broker is away for long: wait and retry.
      EXPECT_EQ(r.status().code(), Code::kRingFull) << r.status().ToString();
      if (r.status().code() != Code::kRingFull) return 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // Reads every message from queue (plaintext straight to the broker) until it stays empty.
  std::vector<Delivered> Drain(const std::string& queue) {
    std::vector<Delivered> out;
    auto c = amqp::Connection::Connect(PlainEndpoint());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return out;
    amqp_connection_state_t st = (*c)->state();
    amqp_basic_qos(st, amqp::Connection::kChannel, 0, 500, 0);
    EXPECT_TRUE((*c)->CheckLastRpc("basic.qos").ok());
    amqp_basic_consume(st, amqp::Connection::kChannel, amqp_cstring_bytes(queue.c_str()),
                       amqp_empty_bytes, 0, /*no_ack=*/1, 0, amqp_empty_table);
    EXPECT_TRUE((*c)->CheckLastRpc("basic.consume").ok());
    for (;;) {
      amqp_envelope_t env;
      amqp_maybe_release_buffers(st);
      struct timeval tv = {3, 0};
      amqp_rpc_reply_t r = amqp_consume_message(st, &env, &tv, 0);
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
          r.library_error == AMQP_STATUS_TIMEOUT) {
        break;  // nothing for 3 s: the queue is drained
      }
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        ADD_FAILURE() << "consume failed: " << (*c)->CheckReply(r, "consume").ToString();
        break;
      }
      Delivered d = test::FromEnvelope(env);
      amqp_destroy_envelope(&env);
      out.push_back(std::move(d));
    }
    return out;
  }

  static Topology QueueTopology(const std::string& exchange, const std::string& queue,
                                const std::string& key) {
    Topology t;
    t.exchanges.push_back(ExchangeSpec{exchange, "direct", true});
    QueueSpec q;
    q.name = queue;
    t.queues.push_back(q);
    t.bindings.push_back(BindingSpec{queue, exchange, key});
    return t;
  }

  // Deterministic content for seq: the consumer recomputes it to check the bytes.
  static std::string Content(uint64_t seq, size_t size) {
    std::string s(size, '\0');
    uint64_t x = seq * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < size; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      s[i] = static_cast<char>(x);
    }
    return s;
  }

  static uint64_t SeqOf(const std::string& message_id) {
    return std::strtoull(message_id.c_str() + message_id.rfind(':') + 1, nullptr, 10);
  }

  mutable int counter_ = 0;
  std::string dir_;
  std::unique_ptr<ring::Ring> ring_;
  std::unique_ptr<DeadLetterFile> dlf_;
  std::unique_ptr<RabbitConnector> connector_;
  std::unique_ptr<Publisher> publisher_;
};

TEST_F(ForwardTest, ForwardsTwentyThousandMixedSizeRecordsOverTlsIntactAndInOrder) {
  const std::string exchange = Unique("x");
  const std::string queue = Unique("q");
  StartAgent(QueueTopology(exchange, queue, "k"), {{"main", Route{"main", exchange, "k"}}},
             256ull << 20);
  // Sizes from 1 B to 1 MiB: mostly small, some medium, a few large, and both extremes.
  std::mt19937_64 rng(42);
  const uint64_t kRecords = 20000;
  std::map<uint64_t, size_t> sizes;
  for (uint64_t i = 0; i < kRecords; i++) {
    size_t size;
    uint64_t pick = rng() % 1000;
    if (i == 0) {
      size = 1;
    } else if (i == 1) {
      size = 1 << 20;
    } else if (pick < 800) {
      size = 1 + rng() % 1024;
    } else if (pick < 990) {
      size = 1024 + rng() % (64 << 10);
    } else {
      size = (64 << 10) + rng() % ((1 << 20) - (64 << 10) + 1);
    }
    // The seq is known only after the append; content depends on the size's index.
    uint64_t seq = Append("main", Content(i, size));
    ASSERT_NE(seq, 0u);
    sizes[seq] = size;
    if (i % 5000 == 4999) std::printf("appended %llu\n", static_cast<unsigned long long>(i + 1));
  }
  ASSERT_TRUE(publisher_->WaitIdle(300000)) << "not everything was confirmed";
  std::vector<Delivered> got = Drain(queue);
  ASSERT_EQ(got.size(), kRecords);
  uint64_t first_seq = sizes.begin()->first;
  uint64_t prev = 0;
  for (const Delivered& d : got) {
    ASSERT_EQ(d.message_id.rfind("gw-test:", 0), 0u) << d.message_id;
    uint64_t seq = SeqOf(d.message_id);
    ASSERT_GT(seq, prev) << "out of order";
    prev = seq;
    ASSERT_EQ(d.body, Content(seq - first_seq, sizes[seq])) << "bytes differ for " << d.message_id;
    EXPECT_EQ(d.headers.at("x-edge-route"), "main");
    EXPECT_EQ(d.headers.at("x-edge-seq"), std::to_string(seq));
  }
  EXPECT_EQ(ring_->store().head().seq, ring_->store().next_seq());
  std::printf("forward: records=%llu lost=0 in_order=yes\n",
              static_cast<unsigned long long>(kRecords));
}

TEST_F(ForwardTest, LosesNothingWhenTheBrokerIsKilledAndRestartedMidStream) {
  const std::string exchange = Unique("x");
  const std::string queue = Unique("q");
  const uint32_t kWindow = 128;
  StartAgent(QueueTopology(exchange, queue, "k"), {{"main", Route{"main", exchange, "k"}}},
             64ull << 20, kWindow);
  const int kKills = 3;
  // The producer keeps appending through every kill; the ring holds what the broker cannot
  // take meanwhile.
  std::atomic<bool> done{false};
  std::atomic<uint64_t> appended{0};
  std::thread producer([&] {
    for (uint64_t i = 0; !done.load(); i++) {
      uint64_t seq = Append("main", Content(i, 64 + i % 512));
      ASSERT_EQ(seq, i + 1);
      appended = i + 1;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  });
  for (int k = 0; k < kKills; k++) {
    // Kill while messages are in flight on a live session: wait until the publisher is
    // connected again (k reconnects so far) and has confirmed more since.
    uint64_t before = publisher_->stats().confirmed_through;
    for (int i = 0; i < 6000; i++) {
      PublisherStats st = publisher_->stats();
      if (st.connected && st.reconnects >= static_cast<uint64_t>(k) &&
          st.confirmed_through > before + 300) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    broker_->KillHard();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    Status s = broker_->Restart();
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << broker_->LogTail();
  }
  // Let the last session carry traffic too, then stop producing.
  uint64_t before = publisher_->stats().confirmed_through;
  for (int i = 0; i < 6000 && publisher_->stats().confirmed_through <= before + 300; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  done = true;
  producer.join();
  const uint64_t kRecords = appended.load();
  ASSERT_TRUE(publisher_->WaitIdle(300000)) << "not everything was confirmed";
  std::vector<Delivered> got = Drain(queue);
  std::set<uint64_t> seen;
  uint64_t duplicates = 0;
  for (const Delivered& d : got) {
    uint64_t seq = SeqOf(d.message_id);
    if (!seen.insert(seq).second) {
      duplicates++;
      continue;
    }
    ASSERT_EQ(d.body, Content(seq - 1, 64 + (seq - 1) % 512)) << d.message_id;
  }
  uint64_t lost = 0;
  for (uint64_t seq = 1; seq <= kRecords; seq++) {
    if (seen.count(seq) == 0) {
      lost++;
      ADD_FAILURE() << "seq " << seq << " was confirmed durable but is missing";
    }
  }
  edge::test::PrintReliabilityLine(
      {.suite = "broker-kill9",
       .family = "tls",
       .count = static_cast<uint64_t>(kKills),
       .records = kRecords,
       .lost = lost,
       .duplicates = duplicates,
       .injects = "RabbitMQ node killed with kill -9 and restarted mid-stream "
                  "(TLS, publisher confirms)",
       .reproduce = "ctest -R forward_test"});
  EXPECT_EQ(lost, 0u);
  EXPECT_LE(duplicates, static_cast<uint64_t>(kWindow) * kKills)
      << "duplicates beyond the unconfirmed window";
  EXPECT_GE(publisher_->stats().reconnects, static_cast<uint64_t>(kKills));
}

TEST_F(ForwardTest, UnroutableAndRejectedMessagesEndInTheDeadLetterFileWithTheBrokersReason) {
  const std::string exchange = Unique("x");
  const std::string full_queue = Unique("full");
  Topology t;
  t.exchanges.push_back(ExchangeSpec{exchange, "direct", true});
  QueueSpec q;
  q.name = full_queue;
  q.max_length = 5;
  q.overflow = "reject-publish";
  t.queues.push_back(q);
  t.bindings.push_back(BindingSpec{full_queue, exchange, "full"});
  StartAgent(t,
             {{"bounded", Route{"bounded", exchange, "full"}},
              {"nowhere", Route{"nowhere", exchange, "no-binding"}}},
             8ull << 20);
  std::vector<uint64_t> unroutable;
  for (int i = 0; i < 3; i++) unroutable.push_back(Append("nowhere", "lost-" + std::to_string(i)));
  for (int i = 0; i < 12; i++) Append("bounded", "job-" + std::to_string(i));
  ASSERT_TRUE(publisher_->WaitIdle(120000));
  auto dl = DeadLetterFile::ReadAll(port::FileSystem::Posix(), dir_ + "/dead-letters.jsonl");
  ASSERT_TRUE(dl.ok()) << dl.status().ToString();
  int returned = 0;
  int nacked = 0;
  for (const auto& e : *dl) {
    if (e.reason == "returned") {
      returned++;
      EXPECT_EQ(e.reply_code, 312);
      EXPECT_EQ(e.reply_text, "NO_ROUTE");
      EXPECT_EQ(e.route, "nowhere");
    } else if (e.reason == "nacked") {
      nacked++;
      EXPECT_EQ(e.route, "bounded");
      EXPECT_EQ(e.payload.rfind("job-", 0), 0u);
    }
  }
  EXPECT_EQ(returned, 3);
  EXPECT_EQ(nacked, 7) << "12 jobs into a queue that holds 5 with reject-publish";
  EXPECT_EQ(ring_->store().head().seq, ring_->store().next_seq());
}

}  // namespace
}  // namespace edge::publish
