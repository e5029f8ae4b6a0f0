// Disk faults under the whole daemon: ENOSPC and EIO on write and on fdatasync, injected
// through the port/ seam.
//
// AgentDaemon (agent/daemon, what `edge-agent run` runs) is started in-process on a
// SimFileSystem (port/sim_fs.h), which fails writes and syncs on command with Linux semantics
// (a failed fdatasync marks the pages clean; a retry would "succeed"). The intake socket is
// real, producers use the C client, and the publisher forwards over TLS to a private RabbitMQ
// node through a FaultProxy (so a test can hold records back from the broker). A consumer reads
// the queue at the end.
//
// What must hold:
// - a producer whose payload met a failed write or sync gets io_error at once, with a text that
//   names the ring and the failure; never a hang, never a `durable` receipt;
// - once a one-shot fault has passed, the agent accepts again (the ring re-read the disk and
//   started a new epoch); after a persistent fsync failure it refuses every append with a text
//   saying to restart, and a restart on the same disk accepts again (never retry-and-trust);
// - every record answered `durable` reaches the broker byte-identical, also records made
//   durable before the fault and forwarded while the ring refuses appends;
// - the ring verifies clean after the faults, also its durable image after a power cut;
// - a full disk at ring creation stops start-up with an error naming the size and the fix;
// - a dead-letter file that cannot grow (ENOSPC) keeps the returned message in the ring until
//   it can be written: nothing is acknowledged away unrecorded.
// A payload answered io_error may still reach the broker: after a failed write or sync nobody
// can tell what reached the disk, so the ring re-reads it and forwards what is really there.
// Those are counted, never required.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/client/edge_agent_client.h"
#include "agent/daemon/agent_daemon.h"
#include "agent/publish/dead_letter_file.h"
#include "agent/ring/ring_store.h"
#include "config/config.h"
#include "port/sim_fs.h"
#include "tests/support/agent_process.h"
#include "tests/support/broker_fixture.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/queue_reader.h"
#include "tests/support/reliability_line.h"
#include "tests/support/test_payload.h"

namespace edge::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr int kClientTimeoutMs = 60000;  // a bound on waiting, never a pass/fail threshold
constexpr auto kSettleTimeout = 120s;

struct Tally {
  uint64_t injected = 0;    // faults that hit a producer's append
  uint64_t durable = 0;     // records answered durable and checked at the consumer
  uint64_t io_errors = 0;   // answers io_error
  uint64_t lost = 0;
  uint64_t duplicates = 0;
};
Tally* g_tally = nullptr;

class DiskFaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_tally = new Tally();
    auto b = BrokerFixture::Start();
    if (!b.ok()) {
      start_error_ = new std::string(b.status().ToString());
      return;
    }
    broker_ = std::move(b).value().release();
  }
  static void TearDownTestSuite() {
    ReliabilityLine line;
    line.suite = "daemon-disk-faults";
    line.family = "torture";
    line.count = g_tally->injected;
    line.records = g_tally->durable;
    line.lost = g_tally->lost;
    line.duplicates = g_tally->duplicates;
    line.injects = "ENOSPC and EIO on ring writes, EIO on fdatasync (one-shot and persistent), "
                   "ENOSPC on the dead-letter file and at ring creation, through port/ "
                   "SimFileSystem under the whole daemon";
    line.reproduce = "ctest --test-dir build/native -R daemon_disk_faults_test --output-on-failure";
    PrintReliabilityLine(line);
    delete g_tally;
    g_tally = nullptr;
    delete broker_;
    broker_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(start_error_, nullptr) << *start_error_;
    char tmpl[] = "/var/tmp/edge-diskfault-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    auto proxy = FaultProxy::Start(broker_->amqps_port());
    ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
    proxy_ = std::move(proxy).value();
    static int counter = 0;
    const std::string unique = std::to_string(::getpid()) + "-" + std::to_string(counter++);
    opts_.agent_id = "gw-diskfault";
    opts_.dir = tmpl;
    opts_.broker_port = proxy_->port();
    opts_.exchange = "edge-df-x-" + unique;
    opts_.queue = "edge-df-q-" + unique;
    opts_.ring_size = "4MiB";
    Status s = WriteAgentConfig(opts_, *broker_, broker_->password());
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void TearDown() override {
    g_tally->durable += durable_.size();
    g_tally->lost += lost_;
    g_tally->duplicates += duplicates_;
    if (daemon_ != nullptr) (void)daemon_->Stop(0);
    daemon_.reset();
    proxy_.reset();
    std::system(("rm -rf '" + opts_.dir + "'").c_str());
  }

  Status StartAgent() {
    auto config = config::LoadConfig(port::FileSystem::Posix(), opts_.config_path());
    if (!config.ok()) return config.status();
    auto d = daemon::AgentDaemon::Start(*config, &fs_);
    if (!d.ok()) return d.status();
    daemon_ = std::move(d).value();
    return Status::Ok();
  }

  // Graceful stop; the ring's final checkpoint may fail after a persistent fault (reported).
  void StopAgent() {
    Status s = daemon_->Stop(5000);
    if (!s.ok()) std::printf("stop: %s\n", s.ToString().c_str());
    daemon_.reset();
  }

  edge_agent_conn* Connect() {
    edge_agent_conn* c = nullptr;
    int rc = edge_agent_connect(opts_.intake_socket().c_str(), kClientTimeoutMs, &c);
    EXPECT_EQ(rc, EDGE_AGENT_OK) << edge_agent_strerror(rc);
    return c;
  }

  // Sends the next payload of this test; a durable receipt is remembered for the consumer.
  int Send(edge_agent_conn* c, edge_agent_result* r, const std::string& route = "main") {
    const std::string p = Payload("df", next_index_, next_index_ % 700);
    next_index_++;
    const int rc = edge_agent_send(c, route.c_str(), nullptr, 0, p.data(), p.size(), 0, r);
    if (rc == EDGE_AGENT_OK && r->receipt == EDGE_AGENT_RECEIPT_DURABLE && route == "main") {
      EXPECT_TRUE(durable_.emplace(r->seq, p).second) << "seq " << r->seq << " given twice";
    }
    if (rc == EDGE_AGENT_IO_ERROR) {
      io_error_payloads_.insert(p);
      g_tally->io_errors++;
    }
    return rc;
  }

  void SendDurable(edge_agent_conn* c, int n) {
    for (int i = 0; i < n; i++) {
      edge_agent_result r{};
      const int rc = Send(c, &r);
      ASSERT_EQ(rc, EDGE_AGENT_OK) << edge_agent_strerror(rc) << ": " << r.message;
      ASSERT_EQ(r.receipt, EDGE_AGENT_RECEIPT_DURABLE);
    }
  }

  // Arms one failure and sends until a producer's append meets it. The ring's writer thread
  // may take the failure first with a checkpoint (a meta slot write); then it is armed again.
  void InjectOnce(edge_agent_conn* c, bool on_sync, Code code, edge_agent_result* r) {
    for (int attempt = 0; attempt < 50; attempt++) {
      const port::SimFsCounters before = fs_.counters();
      if (on_sync) {
        fs_.FailSyncs(0, 1, code);
      } else {
        fs_.FailWrites(0, 1, code);
      }
      const int rc = Send(c, r);
      if (rc == EDGE_AGENT_IO_ERROR) {
        g_tally->injected++;
        return;
      }
      ASSERT_EQ(rc, EDGE_AGENT_OK) << edge_agent_strerror(rc) << ": " << r->message;
      const port::SimFsCounters after = fs_.counters();
      ASSERT_TRUE(on_sync ? after.failed_syncs > before.failed_syncs
                          : after.failed_writes > before.failed_writes)
          << "the armed failure was neither met by the append nor taken by a checkpoint";
    }
    FAIL() << "the injected failure never met a producer's append in 50 tries";
  }

  void ExpectRingVerifies(const std::string& when) {
    auto store = ring::RingStore::OpenReadOnly(&fs_, opts_.ring_path());
    ASSERT_TRUE(store.ok()) << when << ": " << store.status().ToString();
    std::vector<ring::Damage> damage;
    uint64_t records = 0;
    Status s = (*store)->Verify(&damage, &records);
    EXPECT_TRUE(s.ok()) << when << ": " << s.ToString();
  }

  // Reads the queue until every durable record so far arrived (then 2 s of quiet), or the
  // bound; checks each byte for byte and counts duplicates. May be called more than once.
  void ExpectEveryDurableRecordDelivered() {
    const auto deadline = Clock::now() + kSettleTimeout;
    // The queue exists once the agent's publisher has connected and declared its topology.
    auto reader = QueueReader::Open(*broker_, broker_->password(), opts_.queue);
    while (!reader.ok() && Clock::now() < deadline) {
      std::this_thread::sleep_for(200ms);
      reader = QueueReader::Open(*broker_, broker_->password(), opts_.queue);
    }
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    auto quiet_since = Clock::now();
    std::set<uint64_t> missing;
    for (const auto& [seq, p] : durable_) {
      if (got_.count(seq) == 0) missing.insert(seq);
    }
    for (;;) {
      if ((missing.empty() && Clock::now() - quiet_since >= 2s) || Clock::now() >= deadline) {
        break;
      }
      Result<ConsumedMessage> m = (*reader)->Next(300ms);
      if (m.status().code() == Code::kTimeout) continue;
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      quiet_since = Clock::now();
      ASSERT_TRUE(WellFormedPayload(m->body)) << m->message_id << ": a body nobody sent";
      const uint64_t seq = SeqOfMessageId(m->message_id);
      missing.erase(seq);
      if (!got_.emplace(seq, m->body).second) {
        EXPECT_EQ(got_[seq], m->body) << "seq " << seq << " delivered with two payloads";
        duplicates_++;
      }
      if (io_error_payloads_.count(m->body) > 0) io_error_delivered_.insert(m->body);
    }
    lost_ = 0;
    for (const auto& [seq, p] : durable_) {
      auto it = got_.find(seq);
      if (it == got_.end() || it->second != p) {
        if (lost_++ < 5) ADD_FAILURE() << "durable seq " << seq << " did not arrive intact";
      }
    }
    std::printf("delivered: durable=%zu lost=%llu duplicates=%llu io_error_answered=%zu "
                "of_which_delivered_anyway=%zu\n",
                durable_.size(), static_cast<unsigned long long>(lost_),
                static_cast<unsigned long long>(duplicates_), io_error_payloads_.size(),
                io_error_delivered_.size());
  }

  static BrokerFixture* broker_;
  static std::string* start_error_;

  port::SimFileSystem fs_{2024};
  std::unique_ptr<FaultProxy> proxy_;
  AgentOptions opts_;
  std::unique_ptr<daemon::AgentDaemon> daemon_;
  uint64_t next_index_ = 0;
  std::map<uint64_t, std::string> durable_;  // seq -> payload answered durable
  std::set<std::string> io_error_payloads_;
  std::map<uint64_t, std::string> got_;  // seq -> body, as the consumer saw them
  std::set<std::string> io_error_delivered_;
  uint64_t duplicates_ = 0;
  uint64_t lost_ = 0;
};

BrokerFixture* DiskFaultTest::broker_ = nullptr;
std::string* DiskFaultTest::start_error_ = nullptr;

TEST_F(DiskFaultTest, OneShotWriteAndSyncFailuresAreAnsweredIoErrorAndTheAgentGoesOn) {
  ASSERT_TRUE(StartAgent().ok());
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  struct Fault {
    bool on_sync;
    Code code;
    const char* words;  // what the answer's text must say
  };
  const Fault faults[] = {{false, Code::kNoSpace, "write failed (simulated no_space)"},
                          {false, Code::kIoError, "write failed (simulated io_error)"},
                          {true, Code::kIoError, "fdatasync failed: Input/output error"}};
  for (int round = 0; round < 3; round++) {
    for (const Fault& f : faults) {
      ASSERT_NO_FATAL_FAILURE(SendDurable(c, 20));
      edge_agent_result r{};
      ASSERT_NO_FATAL_FAILURE(InjectOnce(c, f.on_sync, f.code, &r));
      EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_NONE);
      EXPECT_EQ(r.seq, 0u);
      const std::string text = r.message;
      EXPECT_NE(text.find("ring " + opts_.ring_path()), std::string::npos) << text;
      EXPECT_NE(text.find(f.words), std::string::npos) << text;
      // The fault has passed: the ring re-read the disk and takes appends again.
      ASSERT_NO_FATAL_FAILURE(SendDurable(c, 20));
      ASSERT_NO_FATAL_FAILURE(ExpectRingVerifies("after a fault"));
    }
  }
  edge_agent_close(c);
  ASSERT_NO_FATAL_FAILURE(ExpectEveryDurableRecordDelivered());
  StopAgent();
  ASSERT_NO_FATAL_FAILURE(ExpectRingVerifies("after stop"));
  fs_.PowerCut(77);
  ASSERT_NO_FATAL_FAILURE(ExpectRingVerifies("durable image after a power cut"));
}

TEST_F(DiskFaultTest, PersistentFsyncFailureRefusesAppendsClearlyForwardsWhatIsDurableAndRestartRecovers) {
  proxy_->Cut();  // the broker is out of reach: durable records wait in the ring
  ASSERT_TRUE(StartAgent().ok());
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_NO_FATAL_FAILURE(SendDurable(c, 50));

  fs_.FailSyncs(0, 1000000, Code::kIoError);  // every fdatasync fails from now on
  edge_agent_result r{};
  ASSERT_EQ(Send(c, &r), EDGE_AGENT_IO_ERROR) << r.message;
  g_tally->injected++;
  EXPECT_NE(std::string(r.message).find("fdatasync failed"), std::string::npos) << r.message;
  for (int i = 0; i < 5; i++) {
    ASSERT_EQ(Send(c, &r), EDGE_AGENT_IO_ERROR) << r.message;
    EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_NONE);
  }
  // The ring could not start a new epoch: it refuses until restarted, and says so.
  EXPECT_NE(std::string(r.message).find("restart the agent"), std::string::npos) << r.message;

  // The broker comes back: what was durable before the fault is forwarded all the same.
  proxy_->Pass();
  ASSERT_NO_FATAL_FAILURE(ExpectEveryDurableRecordDelivered());

  // The disk recovers, but a failed fsync is never retried-and-trusted: still refused...
  fs_.FailSyncs(0, 0);
  ASSERT_EQ(Send(c, &r), EDGE_AGENT_IO_ERROR) << r.message;
  edge_agent_close(c);
  ASSERT_NO_FATAL_FAILURE(ExpectRingVerifies("while refusing appends"));

  // ...until a restart recovers from what the disk really holds.
  StopAgent();
  ASSERT_TRUE(StartAgent().ok());
  c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_NO_FATAL_FAILURE(SendDurable(c, 30));
  edge_agent_close(c);
  ASSERT_NO_FATAL_FAILURE(ExpectEveryDurableRecordDelivered());
  StopAgent();
  ASSERT_NO_FATAL_FAILURE(ExpectRingVerifies("after restart and stop"));
  fs_.PowerCut(78);
  ASSERT_NO_FATAL_FAILURE(ExpectRingVerifies("durable image after a power cut"));
}

TEST_F(DiskFaultTest, DeadLetterFileThatCannotGrowKeepsTheReturnedMessageInTheRing) {
  ASSERT_TRUE(StartAgent().ok());
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_NO_FATAL_FAILURE(SendDurable(c, 5));
  // No byte more fits on the disk: the ring is preallocated and does not need any, the
  // dead-letter file does.
  uint64_t used = 0;
  for (const std::string& f : fs_.ListFiles()) {
    auto file = fs_.Open(f, port::Access::kReadOnly);
    if (file.ok()) used += *(*file)->Size();
  }
  fs_.SetCapacityBytes(used);
  const uint64_t failed_writes = fs_.counters().failed_writes;

  edge_agent_result r{};
  ASSERT_EQ(Send(c, &r, "nowhere"), EDGE_AGENT_OK) << r.message;  // the broker returns it
  const uint64_t returned_seq = r.seq;
  ASSERT_NO_FATAL_FAILURE(SendDurable(c, 5));
  auto deadline = Clock::now() + kSettleTimeout;
  while (fs_.counters().failed_writes == failed_writes && Clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GT(fs_.counters().failed_writes, failed_writes) << "no dead-letter write was tried";
  g_tally->injected++;
  ops::StatusSnapshot st = daemon_->Snapshot();
  EXPECT_EQ(st.dead_lettered, 0u);
  EXPECT_LE(st.head_seq, returned_seq) << "the returned message left the ring unrecorded";

  fs_.SetCapacityBytes(0);  // space again: the dead letter is written, the ring drains
  deadline = Clock::now() + kSettleTimeout;
  while (Clock::now() < deadline) {
    st = daemon_->Snapshot();
    if (st.dead_lettered == 1 && st.confirm_lag == 0) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(st.dead_lettered, 1u);
  EXPECT_EQ(st.confirm_lag, 0u);
  auto letters = publish::DeadLetterFile::ReadAll(&fs_, opts_.dead_letter_path());
  ASSERT_TRUE(letters.ok()) << letters.status().ToString();
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].seq, returned_seq);
  EXPECT_TRUE(WellFormedPayload((*letters)[0].payload));
  edge_agent_close(c);
  ASSERT_NO_FATAL_FAILURE(ExpectEveryDurableRecordDelivered());
}

TEST_F(DiskFaultTest, DiskTooSmallForTheRingStopsStartUpNamingTheSizeAndTheFix) {
  fs_.SetCapacityBytes(1 << 20);  // the ring wants 4 MiB
  Status s = StartAgent();
  ASSERT_FALSE(s.ok());
  g_tally->injected++;
  EXPECT_EQ(s.code(), Code::kNoSpace) << s.ToString();
  EXPECT_NE(s.message().find("cannot create a ring of 4194304 bytes"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("configure a smaller ring size"), std::string::npos) << s.message();
  EXPECT_FALSE(fs_.Exists(opts_.ring_path())) << "a half-made ring was left behind";
}

}  // namespace
}  // namespace edge::test
