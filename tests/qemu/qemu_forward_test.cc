// The cross-built agent end to end under qemu user mode: the aarch64 (or armhf) `edge-agent run`
// binary runs under qemu and forwards over TLS to a private RabbitMQ node on the build machine
// (tests/support/broker_fixture.h); a consumer on that node checks that every record arrived
// byte-identical. It proves what the unit and power-cut suites cannot: the target build's
// daemon, its TLS stack (mbedTLS for the target), rabbitmq-c for the target and the intake
// protocol across real processes, on the target's instruction set (and for armhf its 32-bit
// types).
//
// Who runs where: ctest runs this test binary under qemu (CMAKE_CROSSCOMPILING_EMULATOR), so
// the producers (the C client library, agent/client) and the consumer are target code too. The
// binary starts the agent as `<emulator> edge-agent run --config FILE`: a process under qemu
// cannot exec another target binary by itself (no binfmt_misc on CI), and the programs the
// broker fixture starts (rabbitmq-server, rabbitmqctl, openssl) are host programs, which qemu
// user mode execs natively. Loopback is the host's: the agent reaches the node on 127.0.0.1 and
// verifies its certificate for the DNS name "localhost" (tls.server_name).
//
// Two tests share one node:
//  - ForwardsEvery...: start the agent; send kRecords records of mixed sizes (empty to 192 KiB,
//    binary) over kProducers pipelined connections, some asking for a `confirmed` receipt, plus
//    a few with `edge-agent send` (the CLI, also under qemu); consume until every record that
//    got a receipt arrived; SIGTERM the agent, which must exit 0.
//  - KillNine...: a producer pipelines records while the agent (the qemu process running it) is
//    SIGKILLed kKills times at a moment chosen by progress (after a number of receipts), and
//    restarted on the same ring each time; every record that got a durable receipt must arrive,
//    re-sent after recovery if the broker had not confirmed it.
// Both fail on any missing record, any byte that differs, a record out of order (first
// deliveries), a message nobody sent, or a bound passing. Duplicates (at-least-once after a
// reconnect) are counted, not failed: after a kill -9 the agent re-sends from the head its ring
// last checkpointed (about once a second, agent/ring/ring.cc), so they can exceed the confirm
// window.
//
// Every wait is a bounded poll on a condition; nothing asserts a timing. The binary ends with
// one RELIABILITY line over both tests (tests/support/reliability_line.h).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/amqp/connection.h"
#include "agent/client/edge_agent_client.h"
#include "tests/support/broker_fixture.h"
#include "tests/support/child_process.h"
#include "tests/support/consumed_message.h"
#include "tests/support/reliability_line.h"

namespace edge::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kAgentBinary = EDGE_AGENT_BINARY;
constexpr const char* kEmulator = EDGE_AGENT_EMULATOR;  // absolute path of qemu-<arch>
constexpr const char* kArch = EDGE_TARGET_ARCH;
constexpr const char* kAgentId = "gw-qemu";
constexpr int kProducers = 2;
constexpr int kRecordsPerProducer = 1500;
constexpr int kRecords = kProducers * kRecordsPerProducer;
constexpr int kCliRecords = 6;
constexpr int kKills = 3;
// The kill test's producer writes this many requests before reading their answers.
constexpr int kKillBatch = 64;
// Bounds for a loaded 2-core machine running everything through a translator; the polls end as
// soon as their condition holds.
constexpr auto kReadyBound = 180s;
constexpr auto kDeliveryBound = 600s;
constexpr auto kCliBound = 120s;
constexpr int kClientTimeoutMs = 180000;
constexpr int kDrainMs = 30000;

// Deterministic binary payloads that name themselves ("<tag>/<i>/" then bytes derived from
// both), so a body can be checked against what was sent for its sequence number.
std::string Payload(const std::string& tag, uint64_t i, size_t n) {
  std::string s = tag + "/" + std::to_string(i) + "/";
  uint64_t x = (std::hash<std::string>{}(tag) ^ (i * 0x9E3779B97F4A7C15ull)) | 1;
  for (size_t k = 0; k < n; k++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s += static_cast<char>(x);
  }
  return s;
}

// Mixed sizes: mostly small telemetry, every 10th a few KiB, every 100th a large blob (more than
// one AMQP frame, so body frames are split and joined again).
size_t PayloadSize(uint64_t i) {
  const uint64_t h = (i * 2654435761u) >> 7;
  if (i % 100 == 7) return 64 * 1024 + h % (128 * 1024);
  if (i % 10 == 3) return 2048 + h % 14336;
  if (i % 50 == 11) return 0;
  return h % 1500;
}

// "<tag>/<i>/" of a payload made by Payload(), or "" when the body does not start like one.
std::string PayloadName(const std::string& body) {
  const size_t a = body.find('/');
  const size_t b = a == std::string::npos ? a : body.find('/', a + 1);
  return b == std::string::npos ? std::string() : body.substr(0, b + 1);
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  return ::close(fd) == 0 && ok;
}

uint64_t SeqOf(const std::string& message_id) {
  const size_t colon = message_id.rfind(':');
  return colon == std::string::npos ? 0
                                    : std::strtoull(message_id.c_str() + colon + 1, nullptr, 10);
}

struct AgentFiles {
  std::string dir;
  std::string config() const { return dir + "/agent.json"; }
  std::string password() const { return dir + "/broker.password"; }
  std::string ring() const { return dir + "/ring"; }
  std::string intake() const { return dir + "/intake.sock"; }
  std::string control() const { return dir + "/control.sock"; }
  std::string dead_letters() const { return dir + "/dead-letters.jsonl"; }
  std::string log() const { return dir + "/agent.log"; }
};

// TLS to the node's AMQPS port, certificate checked against the test CA for "localhost".
std::string ConfigJson(const AgentFiles& f, const BrokerFixture& broker, const std::string& queue) {
  std::ostringstream j;
  j << "{\n"
    << "  \"agent_id\": \"" << kAgentId << "\",\n"
    << "  \"ring\": {\"path\": \"" << f.ring() << "\", \"size\": \"32MiB\", "
    << "\"full_policy\": \"reject\"},\n"
    << "  \"intake\": {\"socket_path\": \"" << f.intake() << "\", \"socket_mode\": \"0660\"},\n"
    << "  \"control\": {\"socket_path\": \"" << f.control() << "\"},\n"
    << "  \"dead_letter_path\": \"" << f.dead_letters() << "\",\n"
    << "  \"broker\": {\n"
    << "    \"endpoints\": [{\"host\": \"127.0.0.1\", \"port\": " << broker.amqps_port() << "}],\n"
    << "    \"tls\": {\"enabled\": true, \"ca_file\": \"" << broker.certs().ca()
    << "\", \"server_name\": \"localhost\"},\n"
    << "    \"auth\": {\"mechanism\": \"plain\", \"user\": \"" << broker.user()
    << "\", \"password_file\": \"" << f.password() << "\"},\n"
    << "    \"heartbeat_s\": 10,\n"
    << "    \"confirm_window\": 256\n"
    << "  },\n"
    << "  \"topology\": {\n"
    << "    \"exchanges\": [{\"name\": \"" << queue << "-x\", \"type\": \"direct\"}],\n"
    << "    \"queues\": [{\"name\": \"" << queue << "\", \"durable\": true}],\n"
    << "    \"bindings\": [{\"queue\": \"" << queue << "\", \"exchange\": \"" << queue
    << "-x\", \"routing_key\": \"k\"}]\n"
    << "  },\n"
    << "  \"routes\": {\"main\": {\"exchange\": \"" << queue << "-x\", \"routing_key\": \"k\"}},\n"
    << "  \"log\": {\"level\": \"info\"}\n"
    << "}\n";
  return j.str();
}

struct ConnDeleter {
  void operator()(edge_agent_conn* c) const { edge_agent_close(c); }
};
using ClientConn = std::unique_ptr<edge_agent_conn, ConnDeleter>;

std::string Describe(int rc, const edge_agent_result& r) {
  return std::string(edge_agent_strerror(rc)) + " (receipt " + edge_agent_receipt_name(r.receipt) +
         ", seq " + std::to_string(r.seq) + "): " + r.message;
}

// What one producer handed over and what the agent answered.
struct Sent {
  std::map<uint64_t, std::string> by_seq;  // seq -> payload, for every durable receipt
  int confirmed_receipts = 0;
  std::string error;  // first problem, "" when none
};

// One pipelined connection: every request is written before the answers are read (the library
// keeps taking answers while the agent's back-pressure holds its writes). Every 250th record
// asks for a `confirmed` receipt.
void Produce(const std::string& socket, int producer, Sent* out) {
  edge_agent_conn* raw = nullptr;
  int rc = edge_agent_connect(socket.c_str(), kClientTimeoutMs, &raw);
  ClientConn conn(raw);
  if (rc != EDGE_AGENT_OK) {
    out->error = std::string("connect: ") + edge_agent_strerror(rc);
    return;
  }
  const std::string tag = "p" + std::to_string(producer);
  const edge_agent_header header{"producer", tag.data(), tag.size()};
  std::vector<std::string> payloads;
  std::vector<unsigned> flags;
  for (int i = 0; i < kRecordsPerProducer; i++) {
    payloads.push_back(
        Payload(tag, i, PayloadSize(static_cast<uint64_t>(i * kProducers + producer))));
    flags.push_back(i % 250 == 249 ? EDGE_AGENT_WAIT_CONFIRMED : 0u);
    rc = edge_agent_send_async(conn.get(), "main", &header, 1, payloads.back().data(),
                               payloads.back().size(), flags.back(), nullptr);
    if (rc != EDGE_AGENT_OK) {
      out->error = "send " + std::to_string(i) + ": " + edge_agent_strerror(rc);
      return;
    }
  }
  uint64_t prev_seq = 0;
  for (int i = 0; i < kRecordsPerProducer; i++) {
    edge_agent_result r{};
    rc = edge_agent_read_result(conn.get(), &r);
    const int want = flags[i] != 0 ? EDGE_AGENT_RECEIPT_CONFIRMED : EDGE_AGENT_RECEIPT_DURABLE;
    if (rc != EDGE_AGENT_OK || r.receipt != want) {
      out->error = "answer " + std::to_string(i) + ": " + Describe(rc, r) + " (expected receipt " +
                   edge_agent_receipt_name(want) + ")";
      return;
    }
    if (r.seq <= prev_seq) {
      out->error = "seq " + std::to_string(r.seq) + " after " + std::to_string(prev_seq) +
                   " on one connection";
      return;
    }
    prev_seq = r.seq;
    if (want == EDGE_AGENT_RECEIPT_CONFIRMED) out->confirmed_receipts++;
    out->by_seq[r.seq] = payloads[i];
  }
}

// The kill test's producer: one connection, batches of kKillBatch requests written before their
// answers are read, until the connection fails (the agent was killed), `stop` is set, or
// `max_records` were sent. Answered records go to by_seq; records written but never answered go
// to unanswered (the agent may or may not have stored them before it died).
struct CutProduction {
  std::map<uint64_t, std::string> by_seq;
  std::map<std::string, std::string> unanswered;  // PayloadName -> payload
  std::atomic<int> receipts{0};
  std::string error;  // an answer other than `durable`, or a seq out of order
};

void ProduceUntilCut(const std::string& socket, const std::string& tag, int max_records,
                     const std::atomic<bool>& stop, CutProduction* out) {
  edge_agent_conn* raw = nullptr;
  int rc = edge_agent_connect(socket.c_str(), kClientTimeoutMs, &raw);
  ClientConn conn(raw);
  if (rc != EDGE_AGENT_OK) {
    out->error = std::string("connect: ") + edge_agent_strerror(rc);
    return;
  }
  uint64_t prev_seq = 0;
  for (int next = 0; next < max_records && !stop;) {
    std::vector<std::pair<std::string, std::string>> batch;  // name, payload
    for (int k = 0; k < kKillBatch && next < max_records; k++, next++) {
      std::string payload = Payload(tag, next, PayloadSize(static_cast<uint64_t>(next)));
      rc = edge_agent_send_async(conn.get(), "main", nullptr, 0, payload.data(), payload.size(), 0,
                                 nullptr);
      batch.emplace_back(PayloadName(payload), std::move(payload));
      if (rc != EDGE_AGENT_OK) break;  // a partly written request may still have been stored
    }
    size_t answered = 0;
    for (; answered < batch.size() && rc == EDGE_AGENT_OK; answered++) {
      edge_agent_result r{};
      rc = edge_agent_read_result(conn.get(), &r);
      if (rc < 0) break;  // no answer: the connection is gone
      if (rc != EDGE_AGENT_OK || r.receipt != EDGE_AGENT_RECEIPT_DURABLE || r.seq <= prev_seq) {
        out->error = "answer for " + batch[answered].first + ": " + Describe(rc, r) +
                     (r.seq <= prev_seq ? " (seq not above " + std::to_string(prev_seq) + ")" : "");
        return;
      }
      prev_seq = r.seq;
      out->by_seq[r.seq] = std::move(batch[answered].second);
      out->receipts++;
    }
    if (rc != EDGE_AGENT_OK) {
      for (size_t k = answered; k < batch.size(); k++) {
        out->unanswered[batch[k].first] = std::move(batch[k].second);
      }
      return;
    }
  }
}

// What a consumer saw, checked against what was sent.
struct Tally {
  uint64_t records = 0;               // records that got a receipt (must all arrive)
  uint64_t delivered = 0;             // of those, how many arrived
  uint64_t lost = 0;                  // got a receipt, never arrived
  uint64_t differing = 0;             // arrived with other bytes than were sent
  uint64_t duplicates = 0;            // deliveries after the first of the same seq
  uint64_t out_of_order = 0;          // first deliveries not in seq order
  uint64_t unknown = 0;               // messages nobody sent
  uint64_t unanswered_delivered = 0;  // sent, no answer (agent killed), arrived intact anyway

  void Add(const Tally& t) {
    records += t.records;
    delivered += t.delivered;
    lost += t.lost;
    differing += t.differing;
    duplicates += t.duplicates;
    out_of_order += t.out_of_order;
    unknown += t.unknown;
    unanswered_delivered += t.unanswered_delivered;
  }
  std::string Summary() const {
    return "records=" + std::to_string(records) + " delivered=" + std::to_string(delivered) +
           " lost=" + std::to_string(lost) + " differing=" + std::to_string(differing) +
           " duplicates=" + std::to_string(duplicates) +
           " out_of_order=" + std::to_string(out_of_order) + " unknown=" + std::to_string(unknown) +
           " unanswered_but_delivered=" + std::to_string(unanswered_delivered);
  }
};

// Checks every delivery: a record with a receipt arrives byte-identical, first deliveries come
// in seq order, a message without a known seq must be one of `unanswered`, byte-identical.
// Reports the first example of each kind of problem as a test failure.
Tally Check(const std::vector<ConsumedMessage>& got, const std::map<uint64_t, std::string>& expect,
            const std::map<std::string, std::string>& unanswered) {
  Tally t;
  t.records = expect.size();
  std::set<uint64_t> seen;
  std::set<std::string> unanswered_seen;
  uint64_t prev = 0;
  const std::string id_prefix = std::string(kAgentId) + ":";
  for (const ConsumedMessage& m : got) {
    const uint64_t seq = SeqOf(m.message_id);
    if (m.message_id.rfind(id_prefix, 0) != 0 || seq == 0) {
      if (t.unknown++ == 0) ADD_FAILURE() << "a message without our id: '" << m.message_id << "'";
      continue;
    }
    if (!seen.insert(seq).second) {
      t.duplicates++;
      continue;
    }
    if (seq <= prev && t.out_of_order++ == 0) ADD_FAILURE() << "out of order at " << m.message_id;
    prev = seq;
    EXPECT_EQ(m.Header("x-edge-route"), "main") << m.message_id;
    EXPECT_EQ(m.Header("x-edge-seq"), std::to_string(seq)) << m.message_id;
    auto it = expect.find(seq);
    if (it == expect.end()) {
      auto u = unanswered.find(PayloadName(m.body));
      if (u != unanswered.end() && u->second == m.body && unanswered_seen.insert(u->first).second) {
        t.unanswered_delivered++;
      } else if (t.unknown++ == 0) {
        ADD_FAILURE() << "a message nobody sent (or sent twice under two seqs): " << m.message_id
                      << ", " << m.body.size() << " bytes starting '" << PayloadName(m.body) << "'";
      }
      continue;
    }
    t.delivered++;
    if (m.body != it->second && t.differing++ == 0) {
      ADD_FAILURE() << "bytes differ for " << m.message_id << ": " << m.body.size()
                    << " bytes arrived, " << it->second.size() << " were sent";
    }
  }
  for (const auto& [seq, payload] : expect) {
    if (seen.count(seq) == 0 && t.lost++ < 5) {
      ADD_FAILURE() << "seq " << seq << " (" << payload.size() << " bytes, '"
                    << PayloadName(payload) << "') got a receipt and never arrived";
    }
  }
  return t;
}

class QemuForwardTest : public ::testing::Test {
 protected:
  // One node for the binary (10-15 s to start); each test uses its own queue and directory.
  static void SetUpTestSuite() {
    auto b = BrokerFixture::Start();
    if (!b.ok()) {
      start_error_ = new std::string(b.status().ToString());
      return;
    }
    broker_ = std::move(b).value().release();
  }

  // The binary's one RELIABILITY line, over both tests, with what they counted.
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
    PrintReliabilityLine({.suite = std::string("qemu-") + kArch + "-forward",
                          .family = "qemu",
                          .count = static_cast<uint64_t>(kills_),
                          .records = totals_.records,
                          .lost = totals_.lost + totals_.differing,
                          .duplicates = totals_.duplicates,
                          .injects = "the cross-built agent under qemu user mode forwarding over "
                                     "TLS to a RabbitMQ node on the host; kill -9 of the agent "
                                     "mid-stream and restart on the same ring",
                          .reproduce = std::string("ctest --test-dir ") + EDGE_BUILD_DIR +
                                       " -R qemu_forward_test --output-on-failure"});
  }

  void SetUp() override {
    ASSERT_EQ(start_error_, nullptr) << *start_error_;
    ASSERT_EQ(::access(kEmulator, X_OK), 0) << kEmulator << ": " << std::strerror(errno);
    char tmpl[] = "/var/tmp/edge-qemu-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    files_.dir = tmpl;
    queue_ = "edge-qemu-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  void TearDown() override {
    // Whatever happened: the agent does not outlive the test (SIGKILL to its group, by pid).
    const bool was_running = agent_.running();
    agent_.Stop(0ms);
    if (HasFailure()) {
      std::printf("--- agent log (%s) ---\n%s\n--- end of agent log ---\n", files_.log().c_str(),
                  FileTail(files_.log(), 12000).c_str());
      if (was_running) std::printf("(the agent was still running: killed in TearDown)\n");
      if (broker_ != nullptr) std::printf("--- broker log ---\n%s\n", broker_->LogTail().c_str());
    }
    if (!files_.dir.empty()) std::system(("rm -rf '" + files_.dir + "'").c_str());
  }

  // `<emulator> edge-agent ARGS...`, as SpawnOptions.
  SpawnOptions AgentCommand(const std::vector<std::string>& args, const std::string& output) const {
    SpawnOptions o;
    o.argv = {kEmulator, kAgentBinary};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = {{"PATH", "/usr/bin:/bin"}};
    o.output_file = output;
    o.die_with_parent = true;
    return o;
  }

  // Starts the agent (on the ring a previous start left, if any) and waits until its intake
  // socket takes a connection.
  void StartAgent() {
    ASSERT_TRUE(WriteFile(files_.password(), broker_->password() + "\n", 0600));
    ASSERT_TRUE(WriteFile(files_.config(), ConfigJson(files_, *broker_, queue_), 0644));
    Status s = agent_.Spawn(
        AgentCommand({"run", "--config", files_.config(), "--drain-ms", std::to_string(kDrainMs)},
                     files_.log()));
    ASSERT_TRUE(s.ok()) << s.ToString();
    const auto deadline = Clock::now() + kReadyBound;
    for (;;) {
      ASSERT_TRUE(agent_.running())
          << "edge-agent exited during start-up (wait status " << agent_.exit_status() << ")";
      edge_agent_conn* c = nullptr;
      if (::access(files_.intake().c_str(), F_OK) == 0 &&
          edge_agent_connect(files_.intake().c_str(), 1000, &c) == EDGE_AGENT_OK) {
        edge_agent_close(c);
        return;
      }
      ASSERT_LT(Clock::now(), deadline) << "edge-agent under qemu not ready within the bound";
      std::this_thread::sleep_for(200ms);
    }
  }

  // Waits until `needle` appears in the agent's log after byte `from` (the log is appended to
  // across restarts).
  void WaitForLog(const std::string& needle, size_t from) {
    const auto deadline = Clock::now() + kReadyBound;
    for (;;) {
      const std::string log = ReadWholeFile(files_.log());
      if (log.size() > from && log.find(needle, from) != std::string::npos) return;
      ASSERT_TRUE(agent_.running())
          << "edge-agent exited (wait status " << agent_.exit_status() << ")";
      ASSERT_LT(Clock::now(), deadline) << "no '" << needle << "' in the agent's log";
      std::this_thread::sleep_for(100ms);
    }
  }

  // SIGTERM to the agent (by its pid): it drains and must exit 0.
  void StopAgent() {
    agent_.Signal(SIGTERM);
    ASSERT_TRUE(agent_.WaitForExit(std::chrono::milliseconds(kDrainMs) + 120s))
        << "edge-agent did not exit after SIGTERM";
    const int st = agent_.exit_status();
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "edge-agent: wait status " << st;
    agent_.Stop(0ms);
  }

  // `edge-agent send` (under qemu too); returns the seq it printed, 0 on failure.
  uint64_t CliSend(const std::string& payload, bool wait_confirmed) {
    const std::string out = files_.dir + "/cli.out";
    ::unlink(out.c_str());
    std::vector<std::string> args = {"send",          "--route",  "main",        "--socket",
                                     files_.intake(), "--header", "producer=cli"};
    if (wait_confirmed) args.insert(args.end(), {"--wait", "confirmed"});
    args.insert(args.end(), {"--", payload});
    Status s = RunToCompletion(AgentCommand(args, out), kCliBound);
    EXPECT_TRUE(s.ok()) << s.ToString();
    const std::string printed = ReadWholeFile(out);
    unsigned long long seq = 0;
    char receipt[16] = {0};
    const bool parsed = std::sscanf(printed.c_str(), "seq=%llu receipt=%15s", &seq, receipt) == 2;
    EXPECT_TRUE(parsed) << "edge-agent send printed: " << printed;
    EXPECT_STREQ(receipt, wait_confirmed ? "confirmed" : "durable") << printed;
    return parsed ? seq : 0;
  }

  // Reads the test's queue straight from the node (plaintext, on the host's loopback) until
  // every seq in `expect` arrived and nothing more came for 2 s (late duplicates), or the bound
  // passed.
  std::vector<ConsumedMessage> Consume(const std::map<uint64_t, std::string>& expect) {
    std::vector<ConsumedMessage> out;
    amqp::Endpoint e;
    e.host = "127.0.0.1";
    e.port = broker_->amqp_port();
    e.security = port::TransportSecurity::kPlaintext;
    e.user = broker_->user();
    e.password = broker_->password();
    e.heartbeat_s = 30;
    e.connect_timeout_ms = 10000;
    e.connection_name = "edge-agent qemu test consumer";
    auto c = amqp::Connection::Connect(e);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return out;
    amqp_connection_state_t st = (*c)->state();
    const auto deadline = Clock::now() + kDeliveryBound;
    // The agent declares the queue once it is connected, which under qemu on a loaded machine
    // can come after the producers are done: wait for it (a passive declare's 404 closes the
    // channel, so reopen it before the next try).
    for (;;) {
      amqp_queue_declare(st, amqp::Connection::kChannel, amqp_cstring_bytes(queue_.c_str()),
                         /*passive=*/1, 0, 0, 0, amqp_empty_table);
      if ((*c)->CheckLastRpc("queue.declare (passive)").ok()) break;
      Status reopened = (*c)->ReopenChannel();
      EXPECT_TRUE(reopened.ok()) << reopened.ToString();
      if (!reopened.ok()) return out;
      if (Clock::now() >= deadline) {
        ADD_FAILURE() << "queue " << queue_ << " was not declared within the bound";
        return out;
      }
      std::this_thread::sleep_for(200ms);
    }
    amqp_basic_qos(st, amqp::Connection::kChannel, 0, 500, 0);
    EXPECT_TRUE((*c)->CheckLastRpc("basic.qos").ok());
    amqp_basic_consume(st, amqp::Connection::kChannel, amqp_cstring_bytes(queue_.c_str()),
                       amqp_empty_bytes, 0, /*no_ack=*/1, 0, amqp_empty_table);
    Status consumed = (*c)->CheckLastRpc("basic.consume");
    EXPECT_TRUE(consumed.ok()) << consumed.ToString();
    if (!consumed.ok()) return out;
    std::set<uint64_t> missing;
    for (const auto& entry : expect) missing.insert(entry.first);
    auto quiet_since = Clock::now();
    while (Clock::now() < deadline) {
      if (missing.empty() && Clock::now() - quiet_since >= 2s) break;
      amqp_envelope_t env;
      amqp_maybe_release_buffers(st);
      struct timeval tv = {0, 500 * 1000};
      amqp_rpc_reply_t r = amqp_consume_message(st, &env, &tv, 0);
      if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
          r.library_error == AMQP_STATUS_TIMEOUT) {
        continue;
      }
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        ADD_FAILURE() << "consume failed: " << (*c)->CheckReply(r, "consume").ToString();
        break;
      }
      ConsumedMessage m = FromEnvelope(env);
      amqp_destroy_envelope(&env);
      missing.erase(SeqOf(m.message_id));
      quiet_since = Clock::now();
      out.push_back(std::move(m));
    }
    return out;
  }

  static BrokerFixture* broker_;
  static std::string* start_error_;
  static Tally totals_;  // over the binary's tests, for the RELIABILITY line
  static int kills_;

  AgentFiles files_;
  std::string queue_;
  ChildProcess agent_;
};

BrokerFixture* QemuForwardTest::broker_ = nullptr;
std::string* QemuForwardTest::start_error_ = nullptr;
Tally QemuForwardTest::totals_;
int QemuForwardTest::kills_ = 0;

TEST_F(QemuForwardTest, TargetAgentForwardsEveryRecordOverTlsByteIdentical) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  std::printf("qemu-forward: %s agent under %s is up; sending %d records from %d producers\n",
              kArch, kEmulator, kRecords, kProducers);
  std::fflush(stdout);

  std::vector<Sent> sent(kProducers);
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; p++) {
    threads.emplace_back([&, p] { Produce(files_.intake(), p, &sent[p]); });
  }
  for (auto& t : threads) t.join();
  std::map<uint64_t, std::string> expect;  // seq -> payload, every record with a receipt
  int confirmed_receipts = 0;
  for (int p = 0; p < kProducers; p++) {
    ASSERT_EQ(sent[p].error, "") << "producer " << p;
    confirmed_receipts += sent[p].confirmed_receipts;
    for (auto& [seq, payload] : sent[p].by_seq) {
      ASSERT_TRUE(expect.emplace(seq, payload).second) << "seq " << seq << " answered twice";
    }
  }
  ASSERT_EQ(expect.size(), static_cast<size_t>(kRecords));
  // A few through the CLI, the way a shell script on a gateway would hand them over.
  for (int i = 0; i < kCliRecords; i++) {
    const std::string payload = "cli/" + std::to_string(i) + "/" + std::string(i * 40, 'a' + i);
    const uint64_t seq = CliSend(payload, /*wait_confirmed=*/i % 2 == 1);
    ASSERT_NE(seq, 0u);
    ASSERT_TRUE(expect.emplace(seq, payload).second) << "seq " << seq << " answered twice";
  }

  const Tally t = Check(Consume(expect), expect, {});
  totals_.Add(t);
  ASSERT_NO_FATAL_FAILURE(StopAgent());
  std::printf("qemu-forward: arch=%s %s (%d via the CLI, %d confirmed receipts)\n", kArch,
              t.Summary().c_str(), kCliRecords, confirmed_receipts);
  EXPECT_EQ(t.lost, 0u);
  EXPECT_EQ(t.differing, 0u);
  EXPECT_EQ(t.out_of_order, 0u);
  EXPECT_EQ(t.unknown, 0u);
  EXPECT_EQ(t.duplicates, 0u) << "duplicates without any reconnect";
}

TEST_F(QemuForwardTest, KillNineMidStreamAndRestartLosesNoDurableRecord) {
  std::map<uint64_t, std::string> expect;
  std::map<std::string, std::string> unanswered;
  auto take = [&](CutProduction& p) {
    for (auto& [seq, payload] : p.by_seq) {
      EXPECT_TRUE(expect.emplace(seq, std::move(payload)).second)
          << "seq " << seq << " answered twice (across restarts)";
    }
    unanswered.insert(p.unanswered.begin(), p.unanswered.end());
  };
  for (int round = 0; round < kKills; round++) {
    const size_t log_before = ReadWholeFile(files_.log()).size();
    ASSERT_NO_FATAL_FAILURE(StartAgent());
    // Connected to the broker before the producer starts, so the kill lands while records are
    // being published and confirmed, not before the first connection.
    ASSERT_NO_FATAL_FAILURE(WaitForLog("connected to amqps://", log_before));
    CutProduction production;
    std::atomic<bool> stop{false};
    std::thread producer([&] {
      ProduceUntilCut(files_.intake(), "k" + std::to_string(round), 1 << 30, stop, &production);
    });
    // The kill moment is chosen by progress, not by time: after a number of durable receipts
    // that differs per round, while the producer keeps a batch in flight.
    const int kill_after = 300 + 350 * round;
    const auto deadline = Clock::now() + kDeliveryBound;
    while (production.receipts < kill_after && agent_.running() && Clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    const bool reached = production.receipts >= kill_after;
    agent_.Signal(SIGKILL);  // the agent's process group: the qemu process running it
    const bool exited = agent_.WaitForExit(60s);
    const int status = agent_.exit_status();
    agent_.Stop(0ms);
    stop = true;
    producer.join();
    ASSERT_TRUE(reached) << "round " << round << ": only " << production.receipts
                         << " receipts before the bound or the agent's exit (wait status " << status
                         << ")";
    ASSERT_TRUE(exited && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "round " << round << ": the agent did not die of the kill (wait status " << status
        << ")";
    kills_++;
    ASSERT_EQ(production.error, "") << "round " << round;
    std::printf("qemu-forward: kill %d after %d receipts, %zu requests unanswered\n", round + 1,
                production.receipts.load(), production.unanswered.size());
    std::fflush(stdout);
    take(production);
  }
  // The last start: recovery, re-sending, and new records on top.
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  CutProduction last;
  const std::atomic<bool> no_stop{false};
  ProduceUntilCut(files_.intake(), "final", 300, no_stop, &last);
  ASSERT_EQ(last.error, "");
  ASSERT_EQ(last.by_seq.size(), 300u) << "the restarted agent did not answer every request";
  take(last);

  const Tally t = Check(Consume(expect), expect, unanswered);
  totals_.Add(t);
  ASSERT_NO_FATAL_FAILURE(StopAgent());
  std::printf("qemu-forward: arch=%s kills=%d %s\n", kArch, kKills, t.Summary().c_str());
  EXPECT_EQ(t.lost, 0u);
  EXPECT_EQ(t.differing, 0u);
  EXPECT_EQ(t.out_of_order, 0u);
  EXPECT_EQ(t.unknown, 0u);
}

}  // namespace
}  // namespace edge::test
