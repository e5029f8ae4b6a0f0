// kill -9 of the real daemon under load, at random moments, at least 100 times.
//
// The real `edge-agent run` binary forwards over TLS to a private RabbitMQ node
// (tests/support/broker_fixture.h). Four producer threads pipeline payloads through the C
// client and keep every `durable` receipt; a consumer thread drains the queue the whole time.
// The main thread starts the daemon, SIGKILLs it (by pid) after a random delay, checks the
// ring with `edge-agent ring verify`, and starts it again, EDGE_TORTURE_KILLS times (default
// 100). Some kills land in start-up (ring recovery, new epoch, broker connect), most while
// producers append and the publisher forwards. A last start lets everything drain.
//
// What must hold (architecture promises 1-3):
// - every record a producer got a `durable` receipt for reaches the consumer, byte-identical,
//   under the seq of its receipt; no seq is ever given to two payloads;
// - every body the consumer sees is one a producer sent (self-describing payloads);
// - `edge-agent ring verify` is clean after every kill (a kill never loses the page cache);
// - duplicates (the same message_id delivered again, not a broker redelivery to the consumer)
//   come only from re-sends: every session of the publisher logs "sending from seq X (N records
//   waiting)", and a seq is delivered at most once plus once per session whose re-send range
//   holds it;
// - and they are bounded: a crash re-sends what the broker had confirmed only back to the
//   durable head, which the ring checkpoints once the head ran confirm_window records past it
//   (RingOptions::checkpoint_every_records), so each session re-delivers at most the window in
//   flight plus about a window confirmed since the last checkpoint: duplicates <= 2 x
//   confirm_window x (sessions - 1). (Before that threshold existed the head was checkpointed
//   only once a second, a daemon killed sooner never moved it, and this suite saw about 4,000
//   duplicates per kill.)
//
// Records a producer sent without getting an answer (the daemon died first) may or may not
// arrive; they are counted, never required. Nothing asserts a timing: the random delays only
// choose where the kill lands, and every wait is a bounded poll on a condition.
//
// EDGE_TORTURE_KILLS=N sets the number of kills; EDGE_TORTURE_SEED=S replays a run's kill
// schedule (the seed is printed). Ends with the RELIABILITY line (suite daemon-kill9).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/client/edge_agent_client.h"
#include "tests/support/agent_process.h"
#include "tests/support/broker_fixture.h"
#include "tests/support/queue_reader.h"
#include "tests/support/reliability_line.h"
#include "tests/support/test_payload.h"

namespace edge::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kAgentBinary = EDGE_AGENT_BINARY;
constexpr int kDefaultKills = 100;
constexpr int kProducers = 4;
constexpr size_t kPipelineDepth = 16;
constexpr int kConfirmWindow = 128;
// Bounds on waiting (a loaded 2-core CI machine); polls end as soon as the condition holds.
constexpr auto kReadyTimeout = 60s;
constexpr auto kDrainTimeout = 300s;
constexpr int kClientTimeoutMs = 30000;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// Payload sizes vary per record, 0..1199 bytes after the self-describing prefix.
size_t SizeOf(uint64_t i) { return static_cast<size_t>((i * 7919) % 1200); }

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What one producer learned: the seq of every durable receipt, and the other outcomes.
struct ProducerLog {
  std::map<uint64_t, uint64_t> acked;  // seq -> payload index
  uint64_t sent = 0;
  uint64_t unanswered = 0;  // the daemon died before answering
  uint64_t refused = 0;     // answered with an error (ring_full, shutting_down, ...)
  std::vector<std::string> problems;
};

// Sends Payload("p<k>", i, ...) for i = 0, 1, ... with up to kPipelineDepth requests
// outstanding, reconnecting whenever the daemon is gone, until stop; then collects the answers
// still owed.
void RunProducer(int k, const std::string& socket, const std::atomic<bool>* stop,
                 ProducerLog* log) {
  const std::string tag = "p" + std::to_string(k);
  uint64_t next_index = 0;
  while (!stop->load()) {
    edge_agent_conn* c = nullptr;
    if (edge_agent_connect(socket.c_str(), kClientTimeoutMs, &c) != EDGE_AGENT_OK) {
      std::this_thread::sleep_for(10ms);  // the daemon is down: poll for the next one
      continue;
    }
    std::deque<uint64_t> outstanding;  // payload indexes, in request order
    bool alive = true;
    while (alive && (!stop->load() || !outstanding.empty())) {
      while (!stop->load() && outstanding.size() < kPipelineDepth) {
        const std::string p = Payload(tag, next_index, SizeOf(next_index));
        if (edge_agent_send_async(c, "main", nullptr, 0, p.data(), p.size(), 0, nullptr) !=
            EDGE_AGENT_OK) {
          alive = false;
          break;
        }
        outstanding.push_back(next_index++);
        log->sent++;
      }
      if (!alive || outstanding.empty()) break;
      edge_agent_result r{};
      const int rc = edge_agent_read_result(c, &r);
      if (rc < 0) break;  // gone (E_CLOSED, E_IO) or stuck: what is outstanding is unknown
      const uint64_t index = outstanding.front();
      outstanding.pop_front();
      if (rc != EDGE_AGENT_OK) {
        log->refused++;
        if (rc == EDGE_AGENT_RING_FULL) std::this_thread::sleep_for(20ms);
        continue;
      }
      if (r.receipt != EDGE_AGENT_RECEIPT_DURABLE || r.seq == 0) {
        log->problems.push_back(tag + "/" + std::to_string(index) + ": ok without a durable seq");
        continue;
      }
      if (!log->acked.emplace(r.seq, index).second) {
        log->problems.push_back("seq " + std::to_string(r.seq) + " acknowledged twice to " + tag);
      }
    }
    log->unanswered += outstanding.size();
    edge_agent_close(c);
  }
}

struct Delivery {
  uint64_t seq = 0;
  std::string body;
  bool redelivered = false;
};

// Drains the queue until stop, reconnecting when the connection or the queue is not there
// (the queue is declared by the daemon's first broker session).
void RunConsumer(const BrokerFixture* broker, const std::string& password,
                 const std::string& queue, const std::atomic<bool>* stop,
                 std::mutex* mu, std::vector<Delivery>* out) {
  while (!stop->load()) {
    auto reader = QueueReader::Open(*broker, password, queue);
    if (!reader.ok()) {
      std::this_thread::sleep_for(200ms);
      continue;
    }
    while (!stop->load()) {
      Result<ConsumedMessage> m = (*reader)->Next(300ms);
      if (m.status().code() == Code::kTimeout) continue;
      if (!m.ok()) break;
      std::lock_guard<std::mutex> l(*mu);
      out->push_back(Delivery{SeqOfMessageId(m->message_id), m->body, m->redelivered});
    }
  }
}

// Every publisher session's re-send range, from the daemon's log lines
// "connected to ...; sending from seq X (N records waiting)".
std::vector<std::pair<uint64_t, uint64_t>> ResendRanges(const std::string& log) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  static const std::regex kLine(R"(sending from seq (\d+) \((\d+) records waiting\))");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kLine); it != std::sregex_iterator();
       ++it) {
    const uint64_t from = std::stoull((*it)[1]);
    out.emplace_back(from, from + std::stoull((*it)[2]));
  }
  return out;
}

TEST(DaemonKill9, EveryDurableReceiptSurvivesRandomKillsAndDuplicatesComeOnlyFromResends) {
  auto started = BrokerFixture::Start();
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<BrokerFixture> broker = std::move(started).value();

  const int kills = EnvInt("EDGE_TORTURE_KILLS", kDefaultKills);
  ASSERT_GE(kills, 1) << "EDGE_TORTURE_KILLS must be at least 1";
  const uint64_t seed = static_cast<uint64_t>(EnvInt("EDGE_TORTURE_SEED", 0)) != 0
                            ? static_cast<uint64_t>(EnvInt("EDGE_TORTURE_SEED", 0))
                            : std::random_device{}() % 1000000 + 1;
  std::printf("daemon-kill9: kills=%d seed=%llu (EDGE_TORTURE_SEED replays the schedule)\n",
              kills, static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);

  char tmpl[] = "/var/tmp/edge-kill9-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  AgentOptions o;
  o.agent_id = "gw-kill9";
  o.dir = tmpl;
  o.broker_port = broker->amqps_port();
  o.exchange = "edge-kill9-x-" + std::to_string(::getpid());
  o.queue = "edge-kill9-q-" + std::to_string(::getpid());
  o.ring_size = "16MiB";
  o.confirm_window = kConfirmWindow;
  const std::string password = broker->password();
  Status written = WriteAgentConfig(o, *broker, password);
  ASSERT_TRUE(written.ok()) << written.ToString();

  std::atomic<bool> stop_producers{false};
  std::atomic<bool> stop_consumer{false};
  std::vector<ProducerLog> logs(kProducers);
  std::vector<std::thread> producers;
  for (int k = 0; k < kProducers; k++) {
    producers.emplace_back(RunProducer, k, o.intake_socket(), &stop_producers, &logs[k]);
  }
  std::mutex deliveries_mu;
  std::vector<Delivery> deliveries;
  std::thread consumer(RunConsumer, broker.get(), password, o.queue, &stop_consumer,
                       &deliveries_mu, &deliveries);
  auto stop_threads = [&] {
    stop_producers = true;
    for (std::thread& t : producers) t.join();
    producers.clear();
    stop_consumer = true;
    if (consumer.joinable()) consumer.join();
  };
  // Whatever assertion ends the test early, the threads are stopped and joined first.
  struct Joiner {
    std::function<void()> join;
    ~Joiner() { join(); }
  } joiner{stop_threads};

  AgentProcess agent;
  const std::vector<std::string> run = {kAgentBinary, "run", "--config", o.config_path()};
  uint64_t verified = 0;
  std::vector<std::string> verify_failures;
  for (int kill = 1; kill <= kills; kill++) {
    Status s = agent.Start(run, o.log_path());
    ASSERT_TRUE(s.ok()) << s.ToString();
    // One kill in eight lands in start-up (recovery, the new epoch's meta write, connecting);
    // the others while producers append and the publisher forwards.
    const int delay_ms = rng() % 8 == 0 ? static_cast<int>(rng() % 150)
                                        : 150 + static_cast<int>(rng() % 650);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    if (!agent.Running()) {
      FAIL() << "edge-agent exited on its own before kill " << kill << " (wait status "
             << agent.wait_status() << ")\n" << FileTail(o.log_path(), 4000);
    }
    agent.Kill();  // SIGKILL by pid, reaped
    struct stat st;
    if (::stat(o.ring_path().c_str(), &st) != 0) continue;  // killed before the ring existed
    ProgramResult v = RunProgram({kAgentBinary, "ring", "verify", o.ring_path()}, 60s);
    verified++;
    if (v.exit_code != 0) {
      verify_failures.push_back("after kill " + std::to_string(kill) + ": " + v.output);
    }
  }

  // A last start: everything durable drains to the broker.
  Status s = agent.Start(run, o.log_path());
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = WaitForAgentReady(&agent, kAgentBinary, o, kReadyTimeout);
  if (!s.ok()) {
    FAIL() << s.ToString() << "\n" << FileTail(o.log_path(), 4000);
  }
  stop_producers = true;
  for (std::thread& t : producers) t.join();
  producers.clear();

  std::map<uint64_t, std::string> acked;  // seq -> the payload acknowledged under it
  uint64_t sent = 0, unanswered = 0, refused = 0;
  std::vector<std::string> problems;
  for (int k = 0; k < kProducers; k++) {
    const std::string tag = "p" + std::to_string(k);
    for (const auto& [seq, index] : logs[k].acked) {
      if (!acked.emplace(seq, Payload(tag, index, SizeOf(index))).second) {
        problems.push_back("seq " + std::to_string(seq) + " acknowledged to two producers");
      }
    }
    sent += logs[k].sent;
    unanswered += logs[k].unanswered;
    refused += logs[k].refused;
    problems.insert(problems.end(), logs[k].problems.begin(), logs[k].problems.end());
  }

  // Wait (bounded) until every acknowledged seq reached the consumer, then 2 s of quiet for
  // late duplicates.
  const auto deadline = Clock::now() + kDrainTimeout;
  std::set<uint64_t> missing;
  for (const auto& [seq, payload] : acked) missing.insert(seq);
  size_t looked_at = 0;  // deliveries already taken off `missing`
  auto quiet_since = Clock::now();
  for (;;) {
    {
      std::lock_guard<std::mutex> l(deliveries_mu);
      if (deliveries.size() != looked_at) quiet_since = Clock::now();
      for (; looked_at < deliveries.size(); looked_at++) missing.erase(deliveries[looked_at].seq);
    }
    if (missing.empty() && Clock::now() - quiet_since >= 2s) break;
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(200ms);
  }
  stop_threads();

  agent.Signal(SIGTERM);
  EXPECT_TRUE(agent.WaitForExit(60s)) << "edge-agent did not exit after SIGTERM";
  EXPECT_TRUE(agent.exited_cleanly()) << "wait status " << agent.wait_status();
  agent.Kill();
  ProgramResult final_verify = RunProgram({kAgentBinary, "ring", "verify", o.ring_path()}, 60s);
  EXPECT_EQ(final_verify.exit_code, 0) << final_verify.output;

  // --- The verdict ---
  std::map<uint64_t, std::string> first_body;   // seq -> first body delivered under it
  std::map<uint64_t, uint64_t> copies;          // seq -> deliveries (broker redeliveries apart)
  uint64_t corrupt = 0, reused = 0, broker_redeliveries = 0;
  for (const Delivery& d : deliveries) {
    if (!WellFormedPayload(d.body)) {
      if (corrupt++ < 5) ADD_FAILURE() << "seq " << d.seq << ": a body nobody sent";
      continue;
    }
    auto [it, fresh] = first_body.emplace(d.seq, d.body);
    if (!fresh && it->second != d.body) {
      if (reused++ < 5) ADD_FAILURE() << "seq " << d.seq << " delivered with two payloads";
    }
    if (d.redelivered) {
      broker_redeliveries++;
    } else {
      copies[d.seq]++;
    }
  }
  uint64_t lost = 0;
  for (const auto& [seq, payload] : acked) {
    auto it = first_body.find(seq);
    if (it == first_body.end() || it->second != payload) {
      if (lost++ < 5) {
        ADD_FAILURE() << "durable seq " << seq
                      << (it == first_body.end() ? " never reached the consumer"
                                                 : " arrived with other bytes");
      }
    }
  }
  const auto ranges = ResendRanges(ReadWholeFile(o.log_path()));
  uint64_t duplicates = 0, unexplained = 0, resent = 0;
  for (const auto& r : ranges) resent += r.second - r.first;
  for (const auto& [seq, n] : copies) {
    if (n <= 1) continue;
    duplicates += n - 1;
    uint64_t allowed = 0;
    for (const auto& r : ranges) allowed += seq >= r.first && seq < r.second ? 1 : 0;
    if (n - 1 > allowed && unexplained++ < 5) {
      ADD_FAILURE() << "seq " << seq << " delivered " << n << " times but re-sent by only "
                    << allowed << " publisher session(s)";
    }
  }
  uint64_t delivered_unacked = 0;
  for (const auto& [seq, body] : first_body) delivered_unacked += acked.count(seq) == 0 ? 1 : 0;

  const uint64_t duplicate_bound =
      2ull * kConfirmWindow * (ranges.empty() ? 0 : ranges.size() - 1);
  EXPECT_LE(duplicates, duplicate_bound)
      << "more duplicates than 2 x confirm_window per publisher session after the first";
  for (const std::string& p : problems) ADD_FAILURE() << p;
  for (const std::string& f : verify_failures) ADD_FAILURE() << "ring verify failed " << f;
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(corrupt, 0u);
  EXPECT_EQ(reused, 0u);
  EXPECT_EQ(unexplained, 0u);
  EXPECT_GT(acked.size(), 0u) << "no producer ever got a durable receipt";
  EXPECT_GE(verified, static_cast<uint64_t>(kills) - 1) << "ring verify ran after too few kills";

  std::printf(
      "daemon-kill9: kills=%d verified=%llu sent=%llu durable=%zu refused=%llu unanswered=%llu "
      "delivered_unacked=%llu deliveries=%zu duplicates=%llu broker_redeliveries=%llu "
      "sessions=%zu waiting_at_session_start=%llu duplicate_bound=%llu "
      "confirm_window_x_kills=%llu lost=%llu\n",
      kills, static_cast<unsigned long long>(verified), static_cast<unsigned long long>(sent),
      acked.size(), static_cast<unsigned long long>(refused),
      static_cast<unsigned long long>(unanswered),
      static_cast<unsigned long long>(delivered_unacked), deliveries.size(),
      static_cast<unsigned long long>(duplicates),
      static_cast<unsigned long long>(broker_redeliveries), ranges.size(),
      static_cast<unsigned long long>(resent),
      static_cast<unsigned long long>(duplicate_bound),
      static_cast<unsigned long long>(static_cast<uint64_t>(kConfirmWindow) * kills),
      static_cast<unsigned long long>(lost));
  ReliabilityLine line;
  line.suite = "daemon-kill9";
  line.family = "torture";
  line.count = static_cast<uint64_t>(kills);
  line.records = acked.size();
  line.lost = lost;
  line.duplicates = duplicates;
  line.injects = "kill -9 of edge-agent run at random moments (start-up included) while " +
                 std::to_string(kProducers) +
                 " pipelining producers send and a consumer drains over TLS; restarted each time";
  line.reproduce = "EDGE_TORTURE_KILLS=" + std::to_string(kills) +
                   " EDGE_TORTURE_SEED=" + std::to_string(seed) +
                   " ctest --test-dir build/native -R daemon_kill9_test --output-on-failure";
  PrintReliabilityLine(line);

  if (!HasFailure()) {
    std::system(("rm -rf '" + o.dir + "'").c_str());
  } else {
    std::printf("kept %s (daemon log: %s)\n", o.dir.c_str(), o.log_path().c_str());
  }
}

}  // namespace
}  // namespace edge::test
