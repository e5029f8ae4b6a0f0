// The publisher's logic against FakeBroker: order, confirms, re-send after loss, dead letters,
// fail-over, blocking. A real ring on the simulated file system underneath.
#include "agent/publish/publisher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <thread>

#include "agent/envelope/envelope.h"
#include "port/sim_fs.h"
#include "tests/support/fake_broker.h"

namespace edge::publish {
namespace {

using edge::test::FakeBroker;
using edge::test::FakeMessage;

class PublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ring::RingOptions ro;
    ro.file_bytes = 4 << 20;
    auto r = ring::Ring::Open(&fs_, "/ring", ro);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ring_ = std::move(r).value();
    auto d = DeadLetterFile::Open(&fs_, "/dead-letters.jsonl");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    dlf_ = std::move(d).value();
    options_.agent_id = "gw-1";
    options_.routes["telemetry"] = Route{"telemetry", "sensors", "t.room1", "application/json"};
    options_.routes["lost"] = Route{"lost", "sensors", "nowhere", "text/plain"};
    options_.backoff_initial_ms = 5;
    options_.backoff_max_ms = 20;
    options_.nack_retry_delay_ms = 5;
    options_.idle_poll_ms = 20;
    options_.seed = 7;
  }
  void TearDown() override {
    if (publisher_) publisher_->Stop();
  }

  void StartPublisher(size_t endpoints = 1) {
    connector_ = broker_.NewConnector(endpoints);
    publisher_ = std::make_unique<Publisher>(ring_.get(), connector_.get(), dlf_.get(), options_);
    publisher_->Start();
  }

  static std::string PayloadFor(uint64_t i) { return "reading-" + std::to_string(i * 7919); }

  uint64_t Append(const std::string& route, const std::string& payload) {
    envelope::Envelope e;
    e.route = route;
    e.accepted_at_ms = 1700000000123;
    e.headers = {{"device", "d17"}};
    e.payload = payload;
    auto r = ring_->Append(envelope::Encode(e));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : 0;
  }

  // Waits (bounded) until cond holds; a generous bound, never a timing assertion.
  template <typename F>
  bool Eventually(F cond) {
    for (int i = 0; i < 3000; i++) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return cond();
  }

  static std::string Header(const FakeMessage& m, const std::string& key) {
    for (const auto& [k, v] : m.meta.headers) {
      if (k == key) return v;
    }
    return "";
  }

  port::SimFileSystem fs_{11};
  std::unique_ptr<ring::Ring> ring_;
  std::unique_ptr<DeadLetterFile> dlf_;
  FakeBroker broker_;
  std::unique_ptr<BrokerConnector> connector_;
  PublisherOptions options_;
  std::unique_ptr<Publisher> publisher_;
};

TEST_F(PublisherTest, ForwardsEveryRecordInOrderWithIdentityAndHeaders) {
  for (uint64_t i = 1; i <= 500; i++) Append("telemetry", PayloadFor(i));
  StartPublisher();
  ASSERT_TRUE(publisher_->WaitIdle(30000));
  auto got = broker_.received();
  ASSERT_EQ(got.size(), 500u);
  for (uint64_t i = 1; i <= 500; i++) {
    const FakeMessage& m = got[i - 1];
    EXPECT_EQ(m.body, PayloadFor(i));
    EXPECT_EQ(m.meta.message_id, "gw-1:" + std::to_string(i));
    EXPECT_EQ(m.meta.exchange, "sensors");
    EXPECT_EQ(m.meta.routing_key, "t.room1");
    EXPECT_EQ(m.meta.content_type, "application/json");
    EXPECT_EQ(m.meta.timestamp_s, 1700000000u);
    EXPECT_EQ(Header(m, "device"), "d17");
    EXPECT_EQ(Header(m, "x-edge-agent"), "gw-1");
    EXPECT_EQ(Header(m, "x-edge-route"), "telemetry");
    EXPECT_EQ(Header(m, "x-edge-attempt"), "1");
  }
  // Everything confirmed: the ring head moved past all of it.
  EXPECT_EQ(ring_->store().head().seq, ring_->store().next_seq());
  EXPECT_EQ(publisher_->stats().confirmed, 500u);
}

TEST_F(PublisherTest, RingHeadMovesOnlyOverConfirmedRecords) {
  broker_.HoldAcks(true);
  for (uint64_t i = 1; i <= 50; i++) Append("telemetry", PayloadFor(i));
  StartPublisher();
  ASSERT_TRUE(Eventually([&] { return broker_.received().size() == 50; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(ring_->store().head().seq, 1u) << "nothing confirmed yet, nothing may leave the ring";
  broker_.HoldAcks(false);
  ASSERT_TRUE(publisher_->WaitIdle(30000));
  EXPECT_EQ(ring_->store().head().seq, 51u);
}

TEST_F(PublisherTest, ResendsEveryUnconfirmedRecordInOrderAfterConnectionLoss) {
  for (uint64_t i = 1; i <= 300; i++) Append("telemetry", PayloadFor(i));
  broker_.HoldAcks(true);        // the first session's publishes are never confirmed
  broker_.DropAfterPublishes(120);
  StartPublisher();
  ASSERT_TRUE(Eventually([&] { return broker_.sessions() >= 2; }));
  broker_.HoldAcks(false);
  ASSERT_TRUE(publisher_->WaitIdle(30000));
  auto got = broker_.received();
  // The second session re-sent everything from seq 1, in order.
  std::vector<FakeMessage> second;
  for (const auto& m : got) {
    if (m.session == 2) second.push_back(m);
  }
  ASSERT_EQ(second.size(), 300u);
  for (uint64_t i = 1; i <= 300; i++) {
    EXPECT_EQ(second[i - 1].meta.message_id, "gw-1:" + std::to_string(i));
    EXPECT_EQ(second[i - 1].body, PayloadFor(i));
  }
  // Duplicates only from the unconfirmed window, marked by the attempt header.
  EXPECT_EQ(Header(second[0], "x-edge-attempt"), "2");
  EXPECT_EQ(publisher_->stats().reconnects, 1u);
  EXPECT_EQ(ring_->store().head().seq, 301u);
}

TEST_F(PublisherTest, ReturnedMessageGoesToTheDeadLetterFileWithTheBrokersReason) {
  Append("telemetry", "a");
  uint64_t lost = Append("lost", "unroutable payload");
  Append("telemetry", "c");
  broker_.Unroutable("nowhere");
  StartPublisher();
  ASSERT_TRUE(publisher_->WaitIdle(30000));
  auto dl = DeadLetterFile::ReadAll(&fs_, "/dead-letters.jsonl");
  ASSERT_TRUE(dl.ok()) << dl.status().ToString();
  ASSERT_EQ(dl->size(), 1u);
  EXPECT_EQ((*dl)[0].seq, lost);
  EXPECT_EQ((*dl)[0].reason, "returned");
  EXPECT_EQ((*dl)[0].reply_code, 312);
  EXPECT_EQ((*dl)[0].reply_text, "NO_ROUTE");
  EXPECT_EQ((*dl)[0].payload, "unroutable payload");
  EXPECT_EQ((*dl)[0].route, "lost");
  EXPECT_EQ(publisher_->stats().returned, 1u);
  EXPECT_EQ(ring_->store().head().seq, ring_->store().next_seq());
}

TEST_F(PublisherTest, NackedMessageIsRetriedThenDeadLetteredAfterTheConfiguredAttempts) {
  options_.nack_retries = 2;
  Append("telemetry", "first");
  uint64_t bad = Append("telemetry", "always refused");
  uint64_t flaky = Append("telemetry", "refused once");
  broker_.NackMessage("gw-1:" + std::to_string(bad), 100);
  broker_.NackMessage("gw-1:" + std::to_string(flaky), 1);
  StartPublisher();
  ASSERT_TRUE(publisher_->WaitIdle(30000));
  auto dl = DeadLetterFile::ReadAll(&fs_, "/dead-letters.jsonl");
  ASSERT_TRUE(dl.ok());
  ASSERT_EQ(dl->size(), 1u);
  EXPECT_EQ((*dl)[0].seq, bad);
  EXPECT_EQ((*dl)[0].reason, "nacked");
  EXPECT_EQ((*dl)[0].attempts, 3);  // the first publish and two retries
  bool flaky_delivered = false;
  for (const auto& m : broker_.received()) {
    if (m.meta.message_id == "gw-1:" + std::to_string(flaky)) flaky_delivered = true;
  }
  EXPECT_TRUE(flaky_delivered);
  EXPECT_EQ(ring_->store().head().seq, ring_->store().next_seq());
}

TEST_F(PublisherTest, RecordOfAnUnconfiguredRouteIsDeadLetteredNotForwarded) {
  Append("telemetry", "ok");
  uint64_t orphan = Append("removed-route", "orphan");
  StartPublisher();
  ASSERT_TRUE(publisher_->WaitIdle(30000));
  auto dl = DeadLetterFile::ReadAll(&fs_, "/dead-letters.jsonl");
  ASSERT_TRUE(dl.ok());
  ASSERT_EQ(dl->size(), 1u);
  EXPECT_EQ((*dl)[0].seq, orphan);
  EXPECT_EQ((*dl)[0].reason, "unknown_route");
  EXPECT_EQ(broker_.received().size(), 1u);
}

TEST_F(PublisherTest, FailsOverToTheNextEndpointWhenOneIsDown) {
  broker_.SetEndpointDown(0, true);
  for (uint64_t i = 1; i <= 20; i++) Append("telemetry", PayloadFor(i));
  StartPublisher(/*endpoints=*/2);
  ASSERT_TRUE(publisher_->WaitIdle(30000));
  EXPECT_EQ(broker_.received().size(), 20u);
  auto attempts = broker_.connect_attempts();
  ASSERT_GE(attempts.size(), 2u);
  EXPECT_EQ(attempts[0], 0u);
  EXPECT_EQ(attempts[1], 1u);
}

TEST_F(PublisherTest, TriesEveryEndpointOfARoundBeforeBackingOff) {
  // A back-off far longer than the wait below: if the publisher waited it out between two
  // endpoints, WaitIdle would fail. Endpoints 0 and 1 are down, 2 is up.
  options_.backoff_initial_ms = 600000;
  options_.backoff_max_ms = 600000;
  broker_.SetEndpointDown(0, true);
  broker_.SetEndpointDown(1, true);
  for (uint64_t i = 1; i <= 20; i++) Append("telemetry", PayloadFor(i));
  StartPublisher(/*endpoints=*/3);
  ASSERT_TRUE(publisher_->WaitIdle(30000)) << publisher_->stats().last_error;
  EXPECT_EQ(broker_.received().size(), 20u);
  EXPECT_EQ(broker_.connect_attempts(), (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(publisher_->stats().connect_failures, 2u);
}

TEST_F(PublisherTest, ReconnectsToTheNextEndpointAfterLosingASession) {
  // A lost session (a killed cluster node, a silent path) is not retried on the same endpoint
  // first: the next session goes to the next endpoint, where nothing waits for a timeout.
  for (uint64_t i = 1; i <= 10; i++) Append("telemetry", PayloadFor(i));
  StartPublisher(/*endpoints=*/3);
  ASSERT_TRUE(publisher_->WaitIdle(30000));
  broker_.DropAfterPublishes(2);
  for (uint64_t i = 11; i <= 30; i++) Append("telemetry", PayloadFor(i));
  ASSERT_TRUE(publisher_->WaitIdle(30000)) << publisher_->stats().last_error;
  EXPECT_EQ(broker_.connect_attempts(), (std::vector<size_t>{0, 1}));
  EXPECT_EQ(publisher_->stats().reconnects, 1u);
  std::set<std::string> ids;
  for (const FakeMessage& m : broker_.received()) ids.insert(m.meta.message_id);
  EXPECT_EQ(ids.size(), 30u);
}

TEST_F(PublisherTest, KeepsGoingRoundTheEndpointsUntilOneComesBack) {
  // All three down for a while: the publisher goes round them in order (back-off between
  // rounds) until one comes back, and nothing is lost meanwhile.
  broker_.FailConnects(0, 2);
  broker_.FailConnects(1, 2);
  broker_.FailConnects(2, 2);
  for (uint64_t i = 1; i <= 5; i++) Append("telemetry", PayloadFor(i));
  StartPublisher(/*endpoints=*/3);
  ASSERT_TRUE(publisher_->WaitIdle(30000)) << publisher_->stats().last_error;
  EXPECT_EQ(broker_.connect_attempts(), (std::vector<size_t>{0, 1, 2, 0, 1, 2, 0}));
  EXPECT_EQ(publisher_->stats().connect_failures, 6u);
  EXPECT_EQ(broker_.received().size(), 5u);
}

TEST_F(PublisherTest, RetriesNackedMessagesEvenWhenTheyFillTheWholeWindow) {
  // A quorum queue without a leader (its node was just killed) nacks every publish that
  // reaches it: here the whole window. The re-publishes must still go out, although every
  // window slot is taken by a nacked original; they used to wait for a free slot forever.
  options_.confirm_window = 4;
  options_.nack_retries = 2;
  for (uint64_t seq = 1; seq <= 4; seq++) broker_.NackMessage("gw-1:" + std::to_string(seq), 1);
  for (uint64_t i = 1; i <= 12; i++) Append("telemetry", PayloadFor(i));
  StartPublisher();
  ASSERT_TRUE(publisher_->WaitIdle(30000))
      << "stuck with " << publisher_->stats().in_flight << " in flight";
  const PublisherStats st = publisher_->stats();
  EXPECT_EQ(st.nacked, 4u);
  EXPECT_EQ(st.confirmed, 12u);
  EXPECT_EQ(st.dead_lettered, 0u);
  std::set<std::string> ids;
  for (const FakeMessage& m : broker_.received()) ids.insert(m.meta.message_id);
  EXPECT_EQ(ids.size(), 12u);
}

TEST_F(PublisherTest, MovesToANewSessionWhenARepublishIsNackedAgainOnTheSameChannel) {
  // The channel, not the message, may be what the broker refuses (a quorum queue's leader
  // moved): the second nack of one seq on one channel makes the publisher reconnect, and the
  // message goes through on the new session instead of ending in the dead-letter file.
  options_.nack_retries = 2;
  broker_.NackMessage("gw-1:3", 2);
  for (uint64_t i = 1; i <= 8; i++) Append("telemetry", PayloadFor(i));
  StartPublisher(/*endpoints=*/2);
  ASSERT_TRUE(publisher_->WaitIdle(30000)) << publisher_->stats().last_error;
  const PublisherStats st = publisher_->stats();
  EXPECT_EQ(st.nacked, 2u);
  EXPECT_EQ(st.dead_lettered, 0u);
  EXPECT_EQ(st.confirmed, 8u);
  EXPECT_EQ(st.reconnects, 1u);
  EXPECT_EQ(broker_.connect_attempts(), (std::vector<size_t>{0, 1}));
  bool delivered_on_second_session = false;
  for (const FakeMessage& m : broker_.received()) {
    if (m.meta.message_id == "gw-1:3" && m.session == 2) delivered_on_second_session = true;
  }
  EXPECT_TRUE(delivered_on_second_session);
}

TEST_F(PublisherTest, StopsPublishingWhileTheBrokerBlocksAndResumesAfter) {
  StartPublisher();
  Append("telemetry", "before");
  ASSERT_TRUE(publisher_->WaitIdle(30000));
  broker_.Block(true);
  ASSERT_TRUE(Eventually([&] { return !publisher_->stats().blocked.empty(); }));
  for (uint64_t i = 1; i <= 10; i++) Append("telemetry", PayloadFor(i));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(broker_.received().size(), 1u);
  EXPECT_EQ(broker_.published_while_blocked(), 0);
  broker_.Block(false);
  ASSERT_TRUE(publisher_->WaitIdle(30000));
  EXPECT_EQ(broker_.received().size(), 11u);
}

TEST_F(PublisherTest, KeepsRetryingThroughRepeatedConnectFailuresWithoutLosingRecords) {
  broker_.FailConnects(0, 5);
  for (uint64_t i = 1; i <= 30; i++) Append("telemetry", PayloadFor(i));
  StartPublisher();
  ASSERT_TRUE(publisher_->WaitIdle(30000));
  EXPECT_EQ(broker_.received().size(), 30u);
  EXPECT_EQ(publisher_->stats().connect_failures, 5u);
}

// Regression: the re-publish of a nacked record settles after the records behind it; the ring
// head once moved back to it, leaving confirmed records in the ring.
TEST_F(PublisherTest, RingHeadMovesPastEverythingAfterANackRetry) {
  options_.nack_retries = 2;
  for (const char* p : {"a", "b", "c"}) Append("telemetry", p);
  broker_.NackMessage("gw-1:2", 1);
  StartPublisher();
  ASSERT_TRUE(publisher_->WaitIdle(30000));
  EXPECT_EQ(ring_->store().head().seq, 4u);
  EXPECT_EQ(publisher_->stats().confirmed_through, 4u);
}

// Regression: re-sends after a reconnect were counted as nack retries, so a record nacked once
// with nack_retries = 1 was dead-lettered instead of retried.
TEST_F(PublisherTest, ResendsAfterAReconnectDoNotCountAgainstNackRetries) {
  options_.nack_retries = 1;
  Append("telemetry", "w");
  Append("telemetry", "x");
  broker_.HoldAcks(true);
  broker_.DropAfterPublishes(1);      // session 1 dies when publishing seq 2
  broker_.NackMessage("gw-1:2", 1);   // then the broker refuses seq 2 once
  StartPublisher();
  ASSERT_TRUE(Eventually([&] { return broker_.sessions() >= 2; }));
  broker_.HoldAcks(false);
  ASSERT_TRUE(publisher_->WaitIdle(30000));
  bool delivered = false;
  for (const auto& m : broker_.received()) delivered |= m.meta.message_id == "gw-1:2";
  EXPECT_TRUE(delivered);
  auto dl = DeadLetterFile::ReadAll(&fs_, "/dead-letters.jsonl");
  ASSERT_TRUE(dl.ok());
  EXPECT_TRUE(dl->empty());
}

// Producers waiting for `confirmed` learn each record's fate, in seq order.
TEST_F(PublisherTest, ReportsEachRecordsOutcomeInSeqOrder) {
  std::mutex mu;
  std::vector<std::pair<uint64_t, bool>> outcomes;
  connector_ = broker_.NewConnector(1);
  publisher_ = std::make_unique<Publisher>(ring_.get(), connector_.get(), dlf_.get(), options_);
  publisher_->SetOutcomeObserver([&](uint64_t seq, bool delivered, const std::string&) {
    std::lock_guard<std::mutex> l(mu);
    outcomes.emplace_back(seq, delivered);
  });
  broker_.Unroutable("nowhere");
  Append("telemetry", "ok-1");
  Append("lost", "returned");
  Append("telemetry", "ok-2");
  publisher_->Start();
  ASSERT_TRUE(publisher_->WaitIdle(30000));
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[0], std::make_pair(uint64_t{1}, true));
  EXPECT_EQ(outcomes[1], std::make_pair(uint64_t{2}, false));
  EXPECT_EQ(outcomes[2], std::make_pair(uint64_t{3}, true));
}

}  // namespace
}  // namespace edge::publish
