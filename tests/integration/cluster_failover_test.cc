// Fail-over across a three-node RabbitMQ cluster, with the binary people install.
//
// The set-up a user who outgrows one broker runs: a cluster of three nodes
// (tests/support/cluster_fixture.h: own names, ports, directories, one cookie, TLS on each), a
// quorum queue the agent declares itself, and `edge-agent run` with a config that lists all
// three nodes as endpoints. A producer hands payloads to the agent's intake socket all the time
// (the C client library), and the test, again and again: asks the cluster which node serves the
// agent's connection (rabbitmqctl list_connections), checks that the quorum queue keeps its
// majority without that node, kill -9s it, waits until the agent publishes again through
// another node, and restarts the killed node. At the end a consumer reads the quorum queue.
//
// What the user relies on, asserted here:
//   - every payload the agent answered `durable` for is in the quorum queue, byte for byte
//     (promises 1 and 2), however often the node it talked to died;
//   - the agent finds another node by itself, from its endpoint list, each time;
//   - per route, first deliveries come in seq order; duplicates carry the same message_id and
//     stay within one confirm window per kill (promise 3).
//
// EDGE_CLUSTER_KILLS=N sets how many nodes are killed (default 3, one kill per node on
// average). Every wait is a bounded poll on a condition; nothing asserts a timing.
#include <cjson/cJSON.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
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

#include "agent/client/edge_agent_client.h"
#include "tests/support/child_process.h"
#include "tests/support/cluster_fixture.h"
#include "tests/support/consumed_message.h"
#include "tests/support/delivery_check.h"
#include "tests/support/queue_drain.h"
#include "tests/support/reliability_line.h"

namespace edge {
namespace {

using Clock = std::chrono::steady_clock;
using test::ChildProcess;
using test::ClusterFixture;
using namespace std::chrono_literals;

constexpr const char* kAgentBinary = EDGE_AGENT_BINARY;
constexpr const char* kAgentId = "gw-cluster";
constexpr const char* kConnectionName = "edge-agent gw-cluster";  // "edge-agent <agent_id>"
constexpr int kConfirmWindow = 256;
constexpr int kDefaultKills = 3;
// "Did it happen at all" bounds: far above a normal run on a loaded machine, far below a hang.
constexpr auto kAgentBound = 120s;
constexpr auto kQuorumBound = 120s;

int KillsToRun() {
  const char* v = std::getenv("EDGE_CLUSTER_KILLS");
  if (v == nullptr || *v == '\0') return kDefaultKills;
  const int n = std::atoi(v);
  return n > 0 ? n : kDefaultKills;
}

// Deterministic payloads that name themselves ("<i>/" then binary bytes derived from i), so
// any body the consumer gets can be checked on its own.
std::string Payload(uint64_t i) {
  std::string s = std::to_string(i) + "/";
  uint64_t x = (i * 0x9E3779B97F4A7C15ull) | 1;
  const size_t n = 16 + (i * 37) % 700;
  for (size_t k = 0; k < n; k++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s += static_cast<char>(x);
  }
  return s;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// --- The agent: config, process, status -----------------------------------------------------

struct AgentFiles {
  std::string dir;
  std::string exchange;
  std::string queue;
  std::string config() const { return dir + "/agent.json"; }
  std::string password() const { return dir + "/broker.password"; }
  std::string intake() const { return dir + "/intake.sock"; }
  std::string control() const { return dir + "/control.sock"; }
  std::string log() const { return dir + "/agent.log"; }
};

// Every node of the cluster is an endpoint, in node order; the queue is a quorum queue.
std::string ConfigJson(const AgentFiles& f, const ClusterFixture& cluster) {
  std::ostringstream j;
  j << "{\n"
    << "  \"agent_id\": \"" << kAgentId << "\",\n"
    << "  \"ring\": {\"path\": \"" << f.dir << "/ring\", \"size\": \"32MiB\", "
    << "\"full_policy\": \"reject\"},\n"
    << "  \"intake\": {\"socket_path\": \"" << f.intake() << "\", \"socket_mode\": \"0660\"},\n"
    << "  \"control\": {\"socket_path\": \"" << f.control() << "\"},\n"
    << "  \"dead_letter_path\": \"" << f.dir << "/dead-letters.jsonl\",\n"
    << "  \"broker\": {\n"
    << "    \"endpoints\": [";
  for (size_t i = 0; i < cluster.size(); i++) {
    j << (i ? ", " : "") << "{\"host\": \"127.0.0.1\", \"port\": " << cluster.node(i).amqps_port()
      << "}";
  }
  j << "],\n"
    << "    \"tls\": {\"enabled\": true, \"ca_file\": \"" << cluster.certs().ca()
    << "\", \"server_name\": \"localhost\"},\n"
    << "    \"auth\": {\"mechanism\": \"plain\", \"user\": \"" << cluster.user()
    << "\", \"password_file\": \"" << f.password() << "\"},\n"
    << "    \"heartbeat_s\": 5,\n"
    << "    \"connect_timeout_ms\": 3000,\n"
    << "    \"handshake_timeout_ms\": 5000,\n"
    << "    \"backoff_initial_ms\": 100,\n"
    << "    \"backoff_max_ms\": 2000,\n"
    << "    \"confirm_window\": " << kConfirmWindow << "\n"
    << "  },\n"
    << "  \"topology\": {\n"
    << "    \"exchanges\": [{\"name\": \"" << f.exchange << "\", \"type\": \"direct\"}],\n"
    << "    \"queues\": [{\"name\": \"" << f.queue << "\", \"quorum\": true}],\n"
    << "    \"bindings\": [{\"queue\": \"" << f.queue << "\", \"exchange\": \"" << f.exchange
    << "\", \"routing_key\": \"k\"}]\n"
    << "  },\n"
    << "  \"routes\": {\"main\": {\"exchange\": \"" << f.exchange
    << "\", \"routing_key\": \"k\"}},\n"
    << "  \"log\": {\"level\": \"info\"}\n"
    << "}\n";
  return j.str();
}

struct AgentStatus {
  bool ok = false;
  std::string raw;
  bool connected = false;
  std::string endpoint;
  uint64_t head_seq = 0;
  uint64_t next_seq = 0;
  uint64_t confirmed = 0;
  uint64_t reconnects = 0;
  uint64_t nacked = 0;
  uint64_t dead_lettered = 0;
  uint64_t returned = 0;
};

AgentStatus QueryStatus(const AgentFiles& f) {
  AgentStatus s;
  test::SpawnOptions o;
  o.argv = {kAgentBinary, "status", "--json", "--socket", f.control()};
  o.env = {{"PATH", "/usr/bin:/bin"}};
  o.output_file = f.dir + "/status.out";
  std::error_code ec;
  std::filesystem::remove(o.output_file, ec);
  Status run = test::RunToCompletion(o, std::chrono::milliseconds(30000));
  s.raw = ReadWholeFile(o.output_file);
  if (!run.ok()) return s;
  std::unique_ptr<cJSON, void (*)(cJSON*)> root(cJSON_Parse(s.raw.c_str()), cJSON_Delete);
  if (!root || !cJSON_IsObject(root.get())) return s;
  auto num = [&](const char* k) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(root.get(), k);
    return cJSON_IsNumber(v) ? static_cast<uint64_t>(v->valuedouble) : 0;
  };
  const cJSON* connected = cJSON_GetObjectItemCaseSensitive(root.get(), "connected");
  const cJSON* endpoint = cJSON_GetObjectItemCaseSensitive(root.get(), "endpoint");
  s.connected = cJSON_IsTrue(connected);
  s.endpoint = cJSON_IsString(endpoint) ? endpoint->valuestring : "";
  s.head_seq = num("head_seq");
  s.next_seq = num("next_seq");
  s.confirmed = num("confirmed");
  s.reconnects = num("reconnects");
  s.nacked = num("nacked");
  s.dead_lettered = num("dead_lettered");
  s.returned = num("returned");
  s.ok = cJSON_IsBool(connected);
  return s;
}

// --- The producer ------------------------------------------------------------------------------

// Sends payload 0, 1, 2, ... to route "main" until stopped, one at a time, and keeps what the
// agent answered `durable` for (seq -> payload index). Reconnects when the agent closes.
class Producer {
 public:
  explicit Producer(std::string socket) : socket_(std::move(socket)) {}
  ~Producer() { Stop(); }
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::map<uint64_t, uint64_t> durable() const {
    std::lock_guard<std::mutex> l(mu_);
    return durable_;
  }
  size_t durable_count() const {
    std::lock_guard<std::mutex> l(mu_);
    return durable_.size();
  }
  uint64_t refused() const { return refused_; }
  std::string last_error() const {
    std::lock_guard<std::mutex> l(mu_);
    return last_error_;
  }

 private:
  void Run() {
    edge_agent_conn* c = nullptr;
    uint64_t i = 0;
    while (!stop_) {
      if (c == nullptr && edge_agent_connect(socket_.c_str(), 10000, &c) != EDGE_AGENT_OK) {
        c = nullptr;
        std::this_thread::sleep_for(50ms);
        continue;
      }
      const std::string p = Payload(i);
      edge_agent_result r;
      const int rc = edge_agent_send(c, "main", nullptr, 0, p.data(), p.size(), 0, &r);
      if (rc == EDGE_AGENT_OK && r.receipt >= EDGE_AGENT_RECEIPT_DURABLE) {
        std::lock_guard<std::mutex> l(mu_);
        durable_[r.seq] = i;
        i++;
      } else {
        refused_++;
        {
          std::lock_guard<std::mutex> l(mu_);
          last_error_ = std::string(edge_agent_strerror(rc)) + ": " + r.message;
        }
        if (rc < 0) {
          edge_agent_close(c);
          c = nullptr;
        }
        std::this_thread::sleep_for(20ms);
      }
      // Paced so that the backlog a kill leaves behind stays a few seconds' worth.
      std::this_thread::sleep_for(2ms);
    }
    edge_agent_close(c);
  }

  const std::string socket_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> refused_{0};
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<uint64_t, uint64_t> durable_;  // guarded by mu_
  std::string last_error_;                // guarded by mu_
};

// --- The test ------------------------------------------------------------------------------------

class ClusterFailoverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto start = Clock::now();
    auto c = ClusterFixture::Start();
    if (!c.ok()) {
      start_error_ = new std::string(c.status().ToString());
      return;
    }
    cluster_ = std::move(c).value().release();
    std::printf(
        "[ cluster  ] 3 nodes up and joined in %lld s\n",
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count()));
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(cluster_, nullptr) << "test cluster did not start: "
                                 << (start_error_ ? *start_error_ : "?");
    char tmpl[] = "/var/tmp/edge-cluster-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    files_.dir = tmpl;
    files_.exchange = "edge-cluster-x-" + std::to_string(::getpid());
    files_.queue = "edge-cluster-q-" + std::to_string(::getpid());
  }
  void TearDown() override {
    agent_.Stop(0ms);  // SIGKILL by pid if still running
    if (HasFailure()) {
      const std::string log = ReadWholeFile(files_.log());
      std::printf("--- agent log (tail) ---\n%s\n--- end ---\n",
                  log.substr(log.size() > 12000 ? log.size() - 12000 : 0).c_str());
      if (cluster_ != nullptr) std::printf("%s\n", cluster_->LogTails().c_str());
    }
    std::error_code ec;
    if (std::getenv("EDGE_TEST_KEEP_DAEMON_DIR") == nullptr) {
      std::filesystem::remove_all(files_.dir, ec);
    }
  }

  // Polls the agent's status until pred holds (bounded); *last gets the last status.
  template <typename Pred>
  bool WaitForStatus(Pred pred, AgentStatus* last) {
    const auto deadline = Clock::now() + kAgentBound;
    for (;;) {
      *last = QueryStatus(files_);
      if (last->ok && pred(*last)) return true;
      if (Clock::now() >= deadline || !agent_.running()) return false;
      std::this_thread::sleep_for(200ms);
    }
  }

  static ClusterFixture* cluster_;
  static std::string* start_error_;
  AgentFiles files_;
  ChildProcess agent_;
};

ClusterFixture* ClusterFailoverTest::cluster_ = nullptr;
std::string* ClusterFailoverTest::start_error_ = nullptr;

TEST_F(ClusterFailoverTest, DeliversEverythingWhileTheConnectedNodeIsKilledAgainAndAgain) {
  ClusterFixture& cluster = *cluster_;
  {
    std::ofstream pw(files_.password());
    pw << cluster.password() << "\n";
  }
  ::chmod(files_.password().c_str(), 0600);
  {
    std::ofstream cfg(files_.config());
    cfg << ConfigJson(files_, cluster);
  }
  test::SpawnOptions o;
  o.argv = {kAgentBinary, "run", "--config", files_.config()};
  o.env = {{"PATH", "/usr/bin:/bin"}};
  o.output_file = files_.log();
  o.die_with_parent = true;  // a ctest timeout must not leave the agent running
  ASSERT_TRUE(agent_.Spawn(o).ok());

  AgentStatus st;
  ASSERT_TRUE(WaitForStatus([](const AgentStatus& s) { return s.connected; }, &st))
      << "agent did not connect: " << st.raw;

  Producer producer(files_.intake());
  producer.Start();

  const int kills = KillsToRun();
  int done = 0;
  for (int k = 0; k < kills; k++) {
    // Records flow before each kill: the agent has confirmed more than at the last kill.
    const uint64_t confirmed_before = st.confirmed;
    ASSERT_TRUE(WaitForStatus(
        [&](const AgentStatus& s) { return s.connected && s.confirmed > confirmed_before + 200; },
        &st))
        << "no progress before kill " << k + 1 << ": " << st.raw;
    auto victim = cluster.NodeServing(kConnectionName);
    ASSERT_TRUE(victim.ok()) << victim.status().ToString();
    Status safe = cluster.WaitUntilSafeToStop(*victim, kQuorumBound);
    ASSERT_TRUE(safe.ok()) << safe.ToString();

    const AgentStatus before = QueryStatus(files_);
    cluster.KillHard(*victim);
    done++;
    // The agent notices, goes to another endpoint and publishes there: confirms advance again
    // on a new session, with the victim still down.
    ASSERT_TRUE(WaitForStatus(
        [&](const AgentStatus& s) {
          return s.connected && s.reconnects > before.reconnects &&
                 s.confirmed > before.confirmed + 200;
        },
        &st))
        << "agent did not fail over after kill " << done << " of "
        << cluster.node(*victim).node_name() << ": " << st.raw;
    auto serving = cluster.NodeServing(kConnectionName);
    ASSERT_TRUE(serving.ok()) << serving.status().ToString();
    EXPECT_NE(*serving, *victim);
    std::printf(
        "[ kill     ] %d: node %zu (%s) killed; agent now on node %zu (%s), %llu confirmed\n", done,
        *victim, cluster.node(*victim).node_name().c_str(), *serving, st.endpoint.c_str(),
        static_cast<unsigned long long>(st.confirmed));
    std::fflush(stdout);

    Status up = cluster.Restart(*victim);
    ASSERT_TRUE(up.ok()) << up.ToString();
  }

  // Everything the producer got `durable` for must now be confirmed: the ring drains.
  producer.Stop();
  const std::map<uint64_t, uint64_t> durable = producer.durable();
  ASSERT_FALSE(durable.empty());
  ASSERT_TRUE(WaitForStatus(
      [&](const AgentStatus& s) { return s.head_seq == s.next_seq && s.next_seq > 0; }, &st))
      << "the ring did not drain: " << st.raw;
  EXPECT_EQ(st.dead_lettered, 0u);
  EXPECT_EQ(st.returned, 0u);
  agent_.Signal(SIGTERM);
  ASSERT_TRUE(agent_.WaitForExit(60000ms)) << "agent did not exit after SIGTERM";
  EXPECT_TRUE(WIFEXITED(agent_.exit_status()) && WEXITSTATUS(agent_.exit_status()) == 0)
      << "wait status " << agent_.exit_status();

  test::DrainOptions drain;
  drain.port = cluster.node(0).amqp_port();
  drain.user = cluster.user();
  drain.password = cluster.password();
  drain.queue = files_.queue;
  drain.want = durable.size();
  std::vector<test::ConsumedMessage> got;
  Status drained = test::DrainQueue(drain, &got);
  ASSERT_TRUE(drained.ok()) << drained.ToString();

  std::map<uint64_t, test::ExpectedRecord> expected;
  for (const auto& [seq, index] : durable) expected[seq] = {"main", Payload(index)};
  const test::DeliveryReport r = test::CheckDeliveries(kAgentId, expected, got);
  for (const std::string& p : r.problems) ADD_FAILURE() << p;
  std::printf(
      "cluster_failover: kills=%d records=%llu delivered=%llu lost=%llu duplicates=%llu "
      "unexpected=%llu corrupt=%llu out_of_order=%llu producer_refusals=%llu "
      "agent_reconnects=%llu broker_nacks=%llu\n",
      done, static_cast<unsigned long long>(r.records),
      static_cast<unsigned long long>(r.delivered), static_cast<unsigned long long>(r.lost),
      static_cast<unsigned long long>(r.duplicates), static_cast<unsigned long long>(r.unexpected),
      static_cast<unsigned long long>(r.corrupt), static_cast<unsigned long long>(r.out_of_order),
      static_cast<unsigned long long>(producer.refused()),
      static_cast<unsigned long long>(st.reconnects), static_cast<unsigned long long>(st.nacked));
  test::PrintReliabilityLine(
      {"cluster-failover", "torture", static_cast<uint64_t>(done), r.records, r.lost, r.duplicates,
       "kill -9 of the RabbitMQ node the agent is connected to (3-node cluster, quorum queue), "
       "node restarted after each fail-over",
       "EDGE_CLUSTER_KILLS=" + std::to_string(kills) +
           " ctest --test-dir build/native -R cluster_failover_test --output-on-failure"});

  EXPECT_EQ(r.lost, 0u);
  EXPECT_EQ(r.unexpected, 0u);
  EXPECT_EQ(r.corrupt, 0u);
  EXPECT_EQ(r.out_of_order, 0u);
  EXPECT_LE(r.duplicates, static_cast<uint64_t>(kConfirmWindow) * static_cast<uint64_t>(done))
      << "duplicates beyond one unconfirmed window per kill";
}

}  // namespace
}  // namespace edge
