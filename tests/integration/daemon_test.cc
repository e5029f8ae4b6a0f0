// The daemon people install, end to end: the real `edge-agent run --config FILE` binary as a
// child process, producers using the C client library (agent/client), a private RabbitMQ node
// with TLS (tests/support/broker_fixture.h), and a plain AMQP consumer reading back what the
// broker holds. Each test writes its own config into its own directory (ring, sockets,
// password file, dead-letter file), runs its own daemon and uses its own exchange and queue;
// the broker node is shared by the binary.
//
// The daemon is started with fork/exec from the test thread and stopped by its process id
// only (never by name). PR_SET_PDEATHSIG makes it die with the test binary if that is killed
// (a ctest timeout), and TearDown kills whatever is still running, so no daemon outlives a
// failed assertion. Its stderr goes to <dir>/agent.log, printed when a test fails.
//
// Every wait is a bounded poll on a condition (status, log, socket); nothing asserts a timing.
//
// What cannot be provoked through a real daemon and a real disk, and is covered elsewhere:
// io_error (tests/integration/daemon_disk_faults_test.cc: the daemon on the simulated file system)
// and internal (a bug by definition).
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/amqp/connection.h"
#include "agent/client/edge_agent_client.h"
#include "agent/publish/dead_letter_file.h"
#include "port/file.h"
#include "tests/support/agent_process.h"
#include "tests/support/broker_fixture.h"
#include "tests/support/consumed_message.h"
#include "tests/support/loopback.h"
#include "tests/support/queue_reader.h"
#include "tests/support/test_payload.h"

namespace edge::daemon {
namespace {

using edge::test::AgentOptions;
using edge::test::AgentProcess;
using edge::test::BrokerFixture;
using edge::test::Payload;
using edge::test::ProgramResult;
using edge::test::RunProgram;
using edge::test::WellFormedPayload;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kAgentBinary = EDGE_AGENT_BINARY;
constexpr const char* kAgentId = "gw-daemon-test";
// Generous bounds for a loaded 2-core CI machine; polls end as soon as the condition holds.
constexpr auto kReadyTimeout = 60s;
constexpr auto kSettleTimeout = 120s;
constexpr int kClientTimeoutMs = 60000;
// The agent's confirm_timeout_ms (30 s, not configurable) plus margin: for "wait confirmed".
constexpr int kWaitConfirmedClientTimeoutMs = 90000;

// --- Small helpers ------------------------------------------------------------------------------

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& text, size_t max_bytes) {
  return text.size() <= max_bytes ? text : "..." + text.substr(text.size() - max_bytes);
}

// Writes path atomically (temporary file + rename) with the given mode.
std::string MessageId(uint64_t seq) { return std::string(kAgentId) + ":" + std::to_string(seq); }

// --- Producers ----------------------------------------------------------------------------------

struct ConnDeleter {
  void operator()(edge_agent_conn* c) const { edge_agent_close(c); }
};
using ClientConn = std::unique_ptr<edge_agent_conn, ConnDeleter>;

// A raw socket for bytes the C library would never send.
class RawSocket {
 public:
  explicit RawSocket(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  int fd() const { return fd_; }

  bool WriteAll(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads until end of stream or timeout; true on end of stream.
  bool ReadToEnd(std::string* out, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    char buf[4096];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno == ECONNRESET;
      if (n == 0) return true;
      out->append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_ = -1;
};

void PutBe(std::string* s, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; i--) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBe(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}

// A SEND frame as docs/PROTOCOL.md draws it, with free choice of type and flags.
std::string SendFrame(uint8_t type, uint8_t flags, uint32_t request_id, const std::string& route,
                      const std::string& payload) {
  std::string body;
  body.push_back(static_cast<char>(type));
  body.push_back(static_cast<char>(flags));
  PutBe(&body, request_id, 4);
  PutBe(&body, route.size(), 2);
  PutBe(&body, 0, 2);  // header_count
  body += route;
  body += payload;
  std::string frame;
  PutBe(&frame, body.size(), 4);
  return frame + body;
}

struct RawAnswer {
  int code = -1;
  uint32_t request_id = 0;
  int receipt = -1;
  uint64_t seq = 0;
  std::string text;
};

// Splits a byte stream of answers; false if it holds anything that is not a whole answer.
bool ParseAnswers(const std::string& bytes, std::vector<RawAnswer>* out) {
  size_t at = 0;
  while (at < bytes.size()) {
    if (bytes.size() - at < 4 + 17) return false;
    const uint64_t frame_len = GetBe(bytes, at, 4);
    if (frame_len < 17 || bytes.size() - at - 4 < frame_len) return false;
    if (static_cast<uint8_t>(bytes[at + 4]) != 0x81) return false;
    RawAnswer a;
    a.code = static_cast<uint8_t>(bytes[at + 5]);
    a.request_id = static_cast<uint32_t>(GetBe(bytes, at + 6, 4));
    a.receipt = static_cast<uint8_t>(bytes[at + 10]);
    a.seq = GetBe(bytes, at + 11, 8);
    const uint64_t text_len = GetBe(bytes, at + 19, 2);
    if (text_len != frame_len - 17) return false;
    a.text = bytes.substr(at + 21, text_len);
    out->push_back(a);
    at += 4 + frame_len;
  }
  return true;
}

std::string Describe(int rc, const edge_agent_result& r) {
  return std::string(edge_agent_strerror(rc)) + " (receipt " + edge_agent_receipt_name(r.receipt) +
         ", seq " + std::to_string(r.seq) + "): " + r.message;
}

// --- What the consumer received -----------------------------------------------------------------

using Delivered = edge::test::ConsumedMessage;

// --- `edge-agent status --json`, parsed -----------------------------------------------------------

struct AgentStatus {
  bool ok = false;
  std::string raw;
  std::string agent_id;
  std::string full_policy;
  std::string endpoint;
  std::string last_error;
  bool connected = false;
  uint64_t ring_bytes = 0;
  uint64_t ring_depth = 0;
  uint64_t head_seq = 0;
  uint64_t next_seq = 0;
  uint64_t oldest_unconfirmed_age_ms = 0;
  uint64_t epoch = 0;
  uint64_t published = 0;
  uint64_t confirmed = 0;
  uint64_t returned = 0;
  uint64_t dead_lettered = 0;
  uint64_t dropped = 0;
  uint64_t rejected_ring_full = 0;
  uint64_t reconnects = 0;
  uint64_t connect_failures = 0;
  uint64_t in_flight = 0;
  uint64_t confirm_lag = 0;
  std::map<std::string, uint64_t> answers;
};

bool ParseStatusJson(const std::string& text, AgentStatus* s) {
  s->raw = text;
  std::unique_ptr<cJSON, void (*)(cJSON*)> root(cJSON_Parse(text.c_str()), cJSON_Delete);
  if (!root || !cJSON_IsObject(root.get())) return false;
  auto str = [&](const char* k) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(root.get(), k);
    return cJSON_IsString(v) ? std::string(v->valuestring) : std::string();
  };
  bool all_numbers = true;
  auto num = [&](const char* k) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(root.get(), k);
    if (!cJSON_IsNumber(v)) {
      all_numbers = false;
      return uint64_t{0};
    }
    return static_cast<uint64_t>(v->valuedouble);
  };
  s->agent_id = str("agent_id");
  s->full_policy = str("full_policy");
  s->endpoint = str("endpoint");
  s->last_error = str("last_error");
  const cJSON* connected = cJSON_GetObjectItemCaseSensitive(root.get(), "connected");
  if (!cJSON_IsBool(connected)) return false;
  s->connected = cJSON_IsTrue(connected);
  s->ring_bytes = num("ring_bytes");
  s->ring_depth = num("ring_depth");
  s->head_seq = num("head_seq");
  s->next_seq = num("next_seq");
  s->oldest_unconfirmed_age_ms = num("oldest_unconfirmed_age_ms");
  s->epoch = num("epoch");
  s->published = num("published");
  s->confirmed = num("confirmed");
  s->returned = num("returned");
  s->dead_lettered = num("dead_lettered");
  s->dropped = num("dropped");
  s->rejected_ring_full = num("rejected_ring_full");
  s->reconnects = num("reconnects");
  s->connect_failures = num("connect_failures");
  s->in_flight = num("in_flight");
  s->confirm_lag = num("confirm_lag");
  const cJSON* answers = cJSON_GetObjectItemCaseSensitive(root.get(), "intake_answers");
  if (!cJSON_IsObject(answers)) return false;
  for (const cJSON* a = answers->child; a != nullptr; a = a->next) {
    if (cJSON_IsNumber(a)) s->answers[a->string] = static_cast<uint64_t>(a->valuedouble);
  }
  return all_numbers;
}

// --- The fixture --------------------------------------------------------------------------------

class DaemonTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto b = BrokerFixture::Start();
    if (!b.ok()) {
      start_error_ = new std::string(b.status().ToString());
      return;
    }
    broker_ = std::move(b).value().release();
    password_ = new std::string(broker_->password());
  }
  static void TearDownTestSuite() {
    delete broker_;
    broker_ = nullptr;
    delete password_;
    password_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(start_error_, nullptr) << *start_error_;
    char tmpl[] = "/var/tmp/edge-daemon-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    opts_ = DefaultOptions(dir_);
  }

  void TearDown() override {
    // Whatever happened: no daemon outlives its test (SIGKILL by the pid we started).
    const bool was_running = daemon_.Running();
    daemon_.Kill();
    if (HasFailure()) {
      for (const std::string& log : logs_) {
        std::printf("--- daemon log %s ---\n%s\n--- end of daemon log ---\n", log.c_str(),
                    Tail(ReadWholeFile(log), 12000).c_str());
      }
      if (was_running) std::printf("(the daemon was still running: killed in TearDown)\n");
    }
    // Leave the shared broker as the next test expects it.
    if (broker_down_) {
      Status s = broker_->Restart();
      broker_down_ = !s.ok();
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    if (*password_ != broker_->password()) {
      Status s = broker_->Ctl({"change_password", broker_->user(), broker_->password()});
      EXPECT_TRUE(s.ok()) << s.ToString();
      *password_ = broker_->password();
    }
    const char* keep = std::getenv("EDGE_TEST_KEEP_DAEMON_DIR");
    if (keep != nullptr && std::string(keep) == "1") {
      std::printf("kept %s\n", dir_.c_str());
    } else {
      std::system(("rm -rf '" + dir_ + "'").c_str());
    }
  }

  AgentOptions DefaultOptions(const std::string& dir) const {
    AgentOptions o;
    o.dir = dir;
    o.broker_port = broker_->amqps_port();
    o.exchange = Unique("x");
    o.queue = Unique("q");
    return o;
  }

  static std::string Unique(const std::string& what) {
    static int counter = 0;
    return "edge-dt-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  }

  // Writes the config and the password file (mode 0600) of opts_.
  void WriteConfig() {
    Status s = test::WriteAgentConfig(opts_, *broker_, *password_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // Starts `edge-agent run` with opts_ and waits until both its sockets answer.
  void StartDaemon() {
    ASSERT_NO_FATAL_FAILURE(WriteConfig());
    if (std::find(logs_.begin(), logs_.end(), opts_.log_path()) == logs_.end()) {
      logs_.push_back(opts_.log_path());
    }
    Status started = daemon_.Start({kAgentBinary, "run", "--config", opts_.config_path(),
                                    "--drain-ms", std::to_string(opts_.drain_ms)},
                                   opts_.log_path());
    ASSERT_TRUE(started.ok()) << started.ToString();
    Status ready = test::WaitForAgentReady(&daemon_, kAgentBinary, opts_, kReadyTimeout);
    ASSERT_TRUE(ready.ok()) << ready.ToString();
  }

  // StartDaemon, then waits until it is connected to the broker.
  void StartDaemonConnected() {
    ASSERT_NO_FATAL_FAILURE(StartDaemon());
    AgentStatus st;
    ASSERT_TRUE(
        WaitForStatus([](const AgentStatus& s) { return s.connected; }, kReadyTimeout, &st))
        << st.raw;
  }

  // SIGTERM by pid, then waits for the exit; the daemon must exit 0.
  void StopDaemon() {
    ASSERT_TRUE(daemon_.Running()) << "the daemon is not running";
    daemon_.Signal(SIGTERM);
    ASSERT_TRUE(daemon_.WaitForExit(std::chrono::milliseconds(opts_.drain_ms) + 60s))
        << "edge-agent did not exit after SIGTERM";
    ASSERT_TRUE(daemon_.exited_cleanly())
        << "edge-agent exited with wait status " << daemon_.wait_status();
  }

  ProgramResult Cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kAgentBinary};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, 30s);
  }

  AgentStatus QueryStatus() {
    AgentStatus s;
    ProgramResult r = Cli({"status", "--json", "--socket", opts_.control_socket()});
    if (r.exit_code != 0) {
      s.raw = r.output;
      return s;
    }
    s.ok = ParseStatusJson(r.output, &s);
    return s;
  }

  // Polls the status until pred holds; *last gets the last status seen.
  bool WaitForStatus(const std::function<bool(const AgentStatus&)>& pred,
                     std::chrono::milliseconds timeout, AgentStatus* last) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      *last = QueryStatus();
      if (last->ok && pred(*last)) return true;
      if (Clock::now() >= deadline || !daemon_.Running()) return false;
      std::this_thread::sleep_for(100ms);
    }
  }

  bool WaitForLog(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (ReadWholeFile(opts_.log_path()).find(needle) != std::string::npos) return true;
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(100ms);
    }
  }

  ClientConn Connect() {
    edge_agent_conn* c = nullptr;
    int rc = edge_agent_connect(opts_.intake_socket().c_str(), kClientTimeoutMs, &c);
    EXPECT_EQ(rc, EDGE_AGENT_OK) << edge_agent_strerror(rc);
    return ClientConn(c);
  }

  // A connection whose requests may wait for the broker's confirm (--wait confirmed).
  ClientConn ConnectForConfirms() {
    ClientConn c = Connect();
    if (c) edge_agent_set_timeout(c.get(), kWaitConfirmedClientTimeoutMs);
    return c;
  }

  // Sends one payload and expects a durable receipt; returns its seq (0 on failure).
  uint64_t SendDurable(edge_agent_conn* c, const std::string& route, const std::string& payload) {
    edge_agent_result r{};
    int rc = edge_agent_send(c, route.c_str(), nullptr, 0, payload.data(), payload.size(), 0, &r);
    EXPECT_EQ(rc, EDGE_AGENT_OK) << Describe(rc, r);
    EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_DURABLE);
    return rc == EDGE_AGENT_OK ? r.seq : 0;
  }

  // Reads the queue (plaintext, straight to the broker) until every id in expect was seen and
  // then nothing more came for 2 s (late duplicates), or until the bound.
  std::vector<Delivered> Consume(const std::string& queue, const std::set<std::string>& expect,
                                 std::chrono::milliseconds bound = kSettleTimeout) {
    std::vector<Delivered> out;
    auto reader = test::QueueReader::Open(*broker_, *password_, queue);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    if (!reader.ok()) return out;
    std::set<std::string> missing = expect;
    const auto deadline = Clock::now() + bound;
    auto quiet_since = Clock::now();
    while (Clock::now() < deadline) {
      if (missing.empty() && Clock::now() - quiet_since >= 2s) break;
      Result<Delivered> d = (*reader)->Next(500ms);
      if (d.status().code() == Code::kTimeout) continue;
      if (!d.ok()) {
        ADD_FAILURE() << "consume failed: " << d.status().ToString();
        break;
      }
      missing.erase(d->message_id);
      quiet_since = Clock::now();
      out.push_back(std::move(d).value());
    }
    EXPECT_TRUE(missing.empty()) << missing.size() << " of " << expect.size()
                                 << " expected messages did not arrive, e.g. "
                                 << *missing.begin();
    return out;
  }

  // Writes a dead-letter file as `dead-letters requeue` finds one moved aside: seqs 1..n of
  // this agent, route "main", reason "nacked", each then shaped by `shape`. Appends the
  // entries written to `written`.
  static void WriteDeadLetterFile(const std::string& path, uint64_t n,
                                  const std::function<void(publish::DeadLetter*)>& shape,
                                  std::vector<publish::DeadLetter>* written) {
    auto dlf = publish::DeadLetterFile::Open(port::FileSystem::Posix(), path);
    ASSERT_TRUE(dlf.ok()) << dlf.status().ToString();
    for (uint64_t seq = 1; seq <= n; seq++) {
      publish::DeadLetter e;
      e.agent_id = kAgentId;
      e.seq = seq;
      e.route = "main";
      e.reason = "nacked";
      shape(&e);
      ASSERT_TRUE((*dlf)->Append(e).ok());
      written->push_back(std::move(e));
    }
  }

  // Reads the main queue until a message that names each old message_id in `sent` (its
  // edge-requeued-from header) arrived and then nothing more came for 2 s, or until the bound.
  // Checks each against the entry it names: payload, device header, route. Returns how often
  // each old message_id arrived.
  std::map<std::string, int> ConsumeRequeued(const std::map<std::string, std::string>& sent) {
    std::map<std::string, int> arrived;
    auto reader = test::QueueReader::Open(*broker_, *password_, opts_.queue);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    if (!reader.ok()) return arrived;
    const auto deadline = Clock::now() + kSettleTimeout;
    auto quiet_since = Clock::now();
    while (Clock::now() < deadline) {
      if (arrived.size() == sent.size() && Clock::now() - quiet_since >= 2s) break;
      Result<Delivered> d = (*reader)->Next(500ms);
      if (d.status().code() == Code::kTimeout) continue;
      if (!d.ok()) {
        ADD_FAILURE() << "consume failed: " << d.status().ToString();
        break;
      }
      quiet_since = Clock::now();
      const std::string from = d->Header("edge-requeued-from");
      auto it = sent.find(from);
      if (it == sent.end()) {
        ADD_FAILURE() << d->message_id << " names " << from << ", not a requeued entry";
        continue;
      }
      EXPECT_EQ(d->body, it->second) << from;
      EXPECT_EQ(d->Header("device").rfind("sensor-", 0), 0u) << from;
      EXPECT_EQ(d->Header("x-edge-route"), "main") << from;
      arrived[from]++;
    }
    return arrived;
  }

  static BrokerFixture* broker_;
  static std::string* start_error_;
  static std::string* password_;  // the broker user's current password
  static bool broker_down_;       // a test killed the node; TearDown restarts it

  std::string dir_;
  AgentOptions opts_;
  AgentProcess daemon_;
  std::vector<std::string> logs_;  // every daemon log of this test, printed when it fails
};

BrokerFixture* DaemonTest::broker_ = nullptr;
std::string* DaemonTest::start_error_ = nullptr;
std::string* DaemonTest::password_ = nullptr;
bool DaemonTest::broker_down_ = false;

// --- Tests --------------------------------------------------------------------------------------

TEST_F(DaemonTest, PipelinedProducersGetInOrderDurableReceiptsAndEverythingArrives) {
  opts_.ring_size = "64MiB";
  ASSERT_NO_FATAL_FAILURE(StartDaemon());

  constexpr int kConnections = 8;
  constexpr int kPerConnection = 500;
  struct Sent {
    std::string tag;
    std::string payload;
  };
  std::vector<std::map<uint64_t, Sent>> by_conn(kConnections);
  std::vector<std::string> errors(kConnections);
  std::vector<std::thread> threads;
  for (int k = 0; k < kConnections; k++) {
    threads.emplace_back([&, k] {
      const std::string tag = "p" + std::to_string(k);
      edge_agent_conn* raw = nullptr;
      int rc = edge_agent_connect(opts_.intake_socket().c_str(), kClientTimeoutMs, &raw);
      ClientConn c(raw);
      if (rc != EDGE_AGENT_OK) {
        errors[k] = std::string("connect: ") + edge_agent_strerror(rc);
        return;
      }
      std::vector<uint32_t> ids;
      std::vector<std::string> payloads;
      const edge_agent_header header{"producer", tag.data(), tag.size()};
      // Every request written before any answer is read: the library keeps taking answers
      // while the agent's back-pressure holds its writes.
      for (int i = 0; i < kPerConnection; i++) {
        payloads.push_back(Payload(tag, i, static_cast<size_t>((k * 7919 + i * 37) % 3000)));
        uint32_t id = 0;
        rc = edge_agent_send_async(c.get(), "main", &header, 1, payloads.back().data(),
                                   payloads.back().size(), 0, &id);
        if (rc != EDGE_AGENT_OK) {
          errors[k] = "send_async " + std::to_string(i) + ": " + edge_agent_strerror(rc);
          return;
        }
        ids.push_back(id);
      }
      uint64_t prev_seq = 0;
      for (int i = 0; i < kPerConnection; i++) {
        edge_agent_result r{};
        rc = edge_agent_read_result(c.get(), &r);
        if (rc != EDGE_AGENT_OK || r.receipt != EDGE_AGENT_RECEIPT_DURABLE) {
          errors[k] = "answer " + std::to_string(i) + ": " + Describe(rc, r);
          return;
        }
        if (r.request_id != ids[i]) {
          errors[k] = "answer " + std::to_string(i) + " is for request " +
                      std::to_string(r.request_id) + ", expected " + std::to_string(ids[i]);
          return;
        }
        if (r.seq <= prev_seq) {
          errors[k] = "seq " + std::to_string(r.seq) + " after " + std::to_string(prev_seq) +
                      ": not increasing on one connection";
          return;
        }
        prev_seq = r.seq;
        by_conn[k][r.seq] = Sent{tag, payloads[i]};
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int k = 0; k < kConnections; k++) ASSERT_EQ(errors[k], "") << "connection " << k;

  std::map<uint64_t, Sent> sent;
  for (auto& m : by_conn) {
    for (auto& [seq, s] : m) ASSERT_TRUE(sent.emplace(seq, s).second) << "seq " << seq << " twice";
  }
  ASSERT_EQ(sent.size(), static_cast<size_t>(kConnections * kPerConnection));

  AgentStatus st;
  ASSERT_TRUE(WaitForStatus(
      [&](const AgentStatus& s) { return s.ring_depth == 0 && s.confirmed >= sent.size(); },
      kSettleTimeout, &st))
      << st.raw;

  std::set<std::string> expect;
  for (const auto& [seq, s] : sent) expect.insert(MessageId(seq));
  std::vector<Delivered> got = Consume(opts_.queue, expect);
  std::set<uint64_t> seen;
  uint64_t duplicates = 0;
  uint64_t prev = 0;
  for (const Delivered& d : got) {
    ASSERT_EQ(d.message_id.rfind(std::string(kAgentId) + ":", 0), 0u) << d.message_id;
    const uint64_t seq = test::SeqOfMessageId(d.message_id);
    auto it = sent.find(seq);
    ASSERT_NE(it, sent.end()) << "a message nobody sent: " << d.message_id;
    if (!seen.insert(seq).second) {
      duplicates++;
      continue;
    }
    EXPECT_GT(seq, prev) << "out of order at " << d.message_id;
    prev = seq;
    ASSERT_EQ(d.body, it->second.payload) << "bytes differ for " << d.message_id;
    EXPECT_EQ(d.Header("producer"), it->second.tag) << d.message_id;
    EXPECT_EQ(d.Header("x-edge-route"), "main") << d.message_id;
    EXPECT_EQ(d.Header("x-edge-seq"), std::to_string(seq)) << d.message_id;
  }
  EXPECT_EQ(seen.size(), sent.size());
  EXPECT_EQ(duplicates, 0u) << "duplicates without any reconnect";
  std::printf("pipelined: connections=%d records=%zu delivered=%zu duplicates=%llu\n",
              kConnections, sent.size(), seen.size(),
              static_cast<unsigned long long>(duplicates));
}

TEST_F(DaemonTest, WaitConfirmedAnswersOnlyAfterTheBrokerConfirmed) {
  ASSERT_NO_FATAL_FAILURE(StartDaemonConnected());
  AgentStatus st;
  ClientConn c = ConnectForConfirms();
  ASSERT_TRUE(c);

  // With the broker up: answered `confirmed`.
  const std::string first = Payload("confirmed", 1, 100);
  edge_agent_result r{};
  int rc = edge_agent_send(c.get(), "main", nullptr, 0, first.data(), first.size(),
                           EDGE_AGENT_WAIT_CONFIRMED, &r);
  ASSERT_EQ(rc, EDGE_AGENT_OK) << Describe(rc, r);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_CONFIRMED);
  const uint64_t seq_first = r.seq;
  ASSERT_GT(seq_first, 0u);

  // Broker gone (kill -9).
  broker_->KillHard();
  broker_down_ = true;
  ASSERT_TRUE(WaitForStatus([](const AgentStatus& s) { return !s.connected; }, kReadyTimeout, &st))
      << st.raw;

  // A plain send needs no broker: durable at once.
  const std::string durable = Payload("durable-while-down", 2, 100);
  const uint64_t seq_durable = SendDurable(c.get(), "main", durable);
  ASSERT_GT(seq_durable, seq_first);

  // docs/PROTOCOL.md: without a confirm within confirm_timeout_ms (30 s) the answer is
  // `timeout` with receipt durable and the seq; the record is still being delivered. A plain
  // request pipelined behind it on the same connection is answered only after it (answers
  // come in request order).
  const std::string waits = Payload("waits", 3, 100);
  const std::string behind = Payload("behind", 4, 100);
  ASSERT_EQ(edge_agent_send_async(c.get(), "main", nullptr, 0, waits.data(), waits.size(),
                                  EDGE_AGENT_WAIT_CONFIRMED, nullptr),
            EDGE_AGENT_OK);
  ASSERT_EQ(edge_agent_send_async(c.get(), "main", nullptr, 0, behind.data(), behind.size(), 0,
                                  nullptr),
            EDGE_AGENT_OK);
  rc = edge_agent_read_result(c.get(), &r);
  ASSERT_EQ(rc, EDGE_AGENT_TIMEOUT) << Describe(rc, r);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_DURABLE);
  const uint64_t seq_waits = r.seq;
  EXPECT_GT(seq_waits, seq_durable);
  EXPECT_NE(std::string(r.message).find("confirm_timeout_ms"), std::string::npos) << r.message;
  rc = edge_agent_read_result(c.get(), &r);
  ASSERT_EQ(rc, EDGE_AGENT_OK) << Describe(rc, r);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_DURABLE);
  const uint64_t seq_behind = r.seq;
  EXPECT_GT(seq_behind, seq_waits);

  // Broker back: what was durable is delivered, and `confirmed` works again.
  Status s = broker_->Restart();
  ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << broker_->LogTail();
  broker_down_ = false;
  ASSERT_TRUE(WaitForStatus(
      [](const AgentStatus& x) { return x.connected && x.ring_depth == 0; }, kSettleTimeout, &st))
      << st.raw;
  const std::string after = Payload("after-restart", 5, 100);
  rc = edge_agent_send(c.get(), "main", nullptr, 0, after.data(), after.size(),
                       EDGE_AGENT_WAIT_CONFIRMED, &r);
  ASSERT_EQ(rc, EDGE_AGENT_OK) << Describe(rc, r);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_CONFIRMED);
  const uint64_t seq_after = r.seq;

  const std::map<uint64_t, std::string> sent = {{seq_first, first},
                                                {seq_durable, durable},
                                                {seq_waits, waits},
                                                {seq_behind, behind},
                                                {seq_after, after}};
  std::set<std::string> expect;
  for (const auto& [seq, p] : sent) expect.insert(MessageId(seq));
  for (const Delivered& d : Consume(opts_.queue, expect)) {
    auto it = sent.find(test::SeqOfMessageId(d.message_id));
    ASSERT_NE(it, sent.end()) << d.message_id;
    EXPECT_EQ(d.body, it->second) << d.message_id;
  }
}

TEST_F(DaemonTest, EveryErrorCodeIsReportedThroughTheRealDaemon) {
  // Part 1, broker reachable. A 1 MiB ring has segments of about 252 KiB: the largest record.
  opts_.ring_size = "1MiB";
  opts_.max_frame_bytes = "512KiB";
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  {
    ClientConn c = Connect();
    ASSERT_TRUE(c);
    edge_agent_result r{};

    // unknown_route: not stored, the connection stays usable.
    int rc = edge_agent_send(c.get(), "nosuchroute", nullptr, 0, "x", 1, 0, &r);
    EXPECT_EQ(rc, EDGE_AGENT_UNKNOWN_ROUTE) << Describe(rc, r);
    EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_NONE);
    EXPECT_EQ(r.seq, 0u);
    EXPECT_NE(std::string(r.message).find("nosuchroute"), std::string::npos) << r.message;
    EXPECT_GT(SendDurable(c.get(), "main", "after unknown_route"), 0u);

    // bad_frame for invalid content (a reserved x-edge-* header): the connection stays usable.
    const edge_agent_header reserved{"x-edge-route", "main", 4};
    rc = edge_agent_send(c.get(), "main", &reserved, 1, "x", 1, 0, &r);
    EXPECT_EQ(rc, EDGE_AGENT_BAD_FRAME) << Describe(rc, r);
    EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_NONE);
    EXPECT_GT(SendDurable(c.get(), "main", "after bad_frame"), 0u);

    // too_large, record: fits max_frame_bytes but not a ring segment; the connection stays.
    const std::string big(300 << 10, 'r');
    rc = edge_agent_send(c.get(), "main", nullptr, 0, big.data(), big.size(), 0, &r);
    EXPECT_EQ(rc, EDGE_AGENT_TOO_LARGE) << Describe(rc, r);
    EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_NONE);
    EXPECT_NE(std::string(r.message).find("per record"), std::string::npos) << r.message;
    EXPECT_GT(SendDurable(c.get(), "main", "after too_large"), 0u);

    // A record that does fit a segment is fine.
    EXPECT_GT(SendDurable(c.get(), "main", std::string(100 << 10, 'f')), 0u);

    // too_large, frame: over max_frame_bytes; answered from the frame head, then closed.
    const std::string huge(600 << 10, 'h');
    rc = edge_agent_send(c.get(), "main", nullptr, 0, huge.data(), huge.size(), 0, &r);
    EXPECT_EQ(rc, EDGE_AGENT_TOO_LARGE) << Describe(rc, r);
    EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_NONE);
    rc = edge_agent_send(c.get(), "main", nullptr, 0, "x", 1, 0, &r);
    EXPECT_EQ(rc, EDGE_AGENT_E_CLOSED) << "the agent keeps a connection whose frame it skipped: "
                                       << Describe(rc, r);
  }
  {
    // bad_frame for broken framing (unknown type, then unknown flags): answered with the
    // request id, then the connection is closed.
    const std::vector<std::pair<uint8_t, uint8_t>> broken = {{0x07, 0x00}, {0x01, 0x80}};
    for (const auto& [type, flags] : broken) {
      RawSocket raw(opts_.intake_socket());
      ASSERT_GE(raw.fd(), 0);
      ASSERT_TRUE(raw.WriteAll(SendFrame(type, flags, 0x01020304, "main", "garbage")));
      std::string bytes;
      ASSERT_TRUE(raw.ReadToEnd(&bytes, 30s)) << "the agent did not close the connection";
      std::vector<RawAnswer> answers;
      ASSERT_TRUE(ParseAnswers(bytes, &answers)) << "not a sequence of answers";
      ASSERT_EQ(answers.size(), 1u);
      EXPECT_EQ(answers[0].code, EDGE_AGENT_BAD_FRAME) << answers[0].text;
      EXPECT_EQ(answers[0].request_id, 0x01020304u);
      EXPECT_EQ(answers[0].receipt, EDGE_AGENT_RECEIPT_NONE);
      EXPECT_FALSE(answers[0].text.empty());
    }
  }
  {
    // not_delivered: the broker returns it (no binding); durable, in the dead-letter file.
    ClientConn c = Connect();
    ASSERT_TRUE(c);
    edge_agent_set_timeout(c.get(), kWaitConfirmedClientTimeoutMs);
    edge_agent_result r{};
    const std::string lost = "nobody is bound to this";
    int rc = edge_agent_send(c.get(), "nowhere", nullptr, 0, lost.data(), lost.size(),
                             EDGE_AGENT_WAIT_CONFIRMED, &r);
    ASSERT_EQ(rc, EDGE_AGENT_NOT_DELIVERED) << Describe(rc, r);
    EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_DURABLE);
    ASSERT_GT(r.seq, 0u);
    auto dl = publish::DeadLetterFile::ReadAll(port::FileSystem::Posix(), opts_.dead_letter_path());
    ASSERT_TRUE(dl.ok()) << dl.status().ToString();
    bool found = false;
    for (const publish::DeadLetter& e : *dl) {
      if (e.seq != r.seq) continue;
      found = true;
      EXPECT_EQ(e.reason, "returned");
      EXPECT_EQ(e.reply_code, 312);
      EXPECT_EQ(e.route, "nowhere");
      EXPECT_EQ(e.routing_key, "no-binding");
      EXPECT_EQ(e.agent_id, kAgentId);
      EXPECT_EQ(e.payload, lost);
    }
    EXPECT_TRUE(found) << "seq " << r.seq << " not in " << opts_.dead_letter_path() << ":\n"
                       << ReadWholeFile(opts_.dead_letter_path());
  }
  AgentStatus st = QueryStatus();
  ASSERT_TRUE(st.ok) << st.raw;
  EXPECT_GE(st.answers["unknown_route"], 1u) << st.raw;
  EXPECT_GE(st.answers["too_large"], 2u) << st.raw;
  EXPECT_GE(st.answers["bad_frame"], 3u) << st.raw;
  EXPECT_GE(st.answers["not_delivered"], 1u) << st.raw;
  ASSERT_NO_FATAL_FAILURE(StopDaemon());

  // Part 2, no broker (a closed port): a tiny ring under `reject` fills up and stays full.
  opts_ = DefaultOptions(dir_ + "/unreachable");
  ASSERT_EQ(::mkdir(opts_.dir.c_str(), 0700), 0);
  auto closed_port = edge::test::PickFreePort();
  ASSERT_TRUE(closed_port.ok());
  opts_.broker_port = *closed_port;
  opts_.ring_size = "1MiB";
  opts_.drain_ms = 3000;
  ASSERT_NO_FATAL_FAILURE(StartDaemon());

  // A producer waiting for `confirmed`: the broker never confirms, so it is still waiting when
  // the agent stops.
  ClientConn waiter = Connect();
  ASSERT_TRUE(waiter);
  const std::string waiting_payload = "waits for a broker that never comes";
  ASSERT_EQ(edge_agent_send_async(waiter.get(), "main", nullptr, 0, waiting_payload.data(),
                                  waiting_payload.size(), EDGE_AGENT_WAIT_CONFIRMED, nullptr),
            EDGE_AGENT_OK);

  // ring_full: not stored, receipt none.
  {
    ClientConn c = Connect();
    ASSERT_TRUE(c);
    const std::string chunk(16 << 10, 'z');
    edge_agent_result r{};
    int rc = EDGE_AGENT_OK;
    int stored = 0;
    for (int i = 0; i < 1000 && rc == EDGE_AGENT_OK; i++) {
      rc = edge_agent_send(c.get(), "main", nullptr, 0, chunk.data(), chunk.size(), 0, &r);
      if (rc == EDGE_AGENT_OK) stored++;
    }
    ASSERT_EQ(rc, EDGE_AGENT_RING_FULL) << Describe(rc, r);
    EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_NONE);
    EXPECT_EQ(r.seq, 0u);
    EXPECT_GT(stored, 10);
    // And it stays full: nothing drains.
    rc = edge_agent_send(c.get(), "main", nullptr, 0, chunk.data(), chunk.size(), 0, &r);
    EXPECT_EQ(rc, EDGE_AGENT_RING_FULL) << Describe(rc, r);
  }
  st = QueryStatus();
  ASSERT_TRUE(st.ok) << st.raw;
  EXPECT_GE(st.rejected_ring_full, 2u) << st.raw;
  EXPECT_GE(st.answers["ring_full"], 2u) << st.raw;
  EXPECT_FALSE(st.connected);

  // shutting_down with receipt none needs a request that arrives while the intake is stopping.
  // The intake stays in that state while it still owes a slow reader answers (up to its
  // stop_flush_ms, 2 s): a raw client sends requests and never reads the answers, until the
  // agent stops reading from it (back-pressure).
  RawSocket slow(opts_.intake_socket());
  ASSERT_GE(slow.fd(), 0);
  {
    const std::string frame = SendFrame(0x01, 0, 7, "zz-unknown", "");
    std::string batch;
    for (int i = 0; i < 64; i++) batch += frame;
    ASSERT_EQ(::fcntl(slow.fd(), F_SETFL, O_NONBLOCK), 0);
    auto stalled_since = Clock::now();
    size_t written = 0;
    const auto bound = Clock::now() + 60s;
    while (Clock::now() - stalled_since < 500ms) {
      ASSERT_LT(Clock::now(), bound) << "the agent kept reading from a client that never reads";
      ssize_t n = ::send(slow.fd(), batch.data(), batch.size(), MSG_NOSIGNAL);
      if (n > 0) {
        written += static_cast<size_t>(n);
        stalled_since = Clock::now();
        // Keep whole frames aligned: finish a partial batch.
        size_t rest = batch.size() - static_cast<size_t>(n);
        if (rest > 0) {
          std::string tail = batch.substr(static_cast<size_t>(n));
          ASSERT_EQ(::fcntl(slow.fd(), F_SETFL, 0), 0);
          ASSERT_TRUE(slow.WriteAll(tail));
          ASSERT_EQ(::fcntl(slow.fd(), F_SETFL, O_NONBLOCK), 0);
          written += rest;
        }
        continue;
      }
      ASSERT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) << std::strerror(errno);
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_GT(written, frame.size() * 256);
  }
  // A well-behaved producer keeps sending (ring_full by now) until the agent stops.
  ClientConn late = Connect();
  ASSERT_TRUE(late);
  std::atomic<int> rounds{0};
  std::atomic<bool> late_done{false};
  edge_agent_result late_result{};
  int late_rc = EDGE_AGENT_OK;
  std::thread late_sender([&] {
    const auto bound = Clock::now() + 60s;
    while (Clock::now() < bound) {
      late_rc = edge_agent_send(late.get(), "main", nullptr, 0, "late", 4, 0, &late_result);
      rounds++;
      // Small records may still fit where the 16 KiB ones did not.
      if (late_rc != EDGE_AGENT_RING_FULL && late_rc != EDGE_AGENT_OK) break;
      std::this_thread::sleep_for(1ms);
    }
    late_done = true;
  });
  while (rounds.load() < 3 && !late_done.load()) std::this_thread::sleep_for(5ms);
  daemon_.Signal(SIGTERM);
  late_sender.join();
  EXPECT_EQ(late_rc, EDGE_AGENT_SHUTTING_DOWN) << Describe(late_rc, late_result);
  if (late_rc == EDGE_AGENT_SHUTTING_DOWN) {
    EXPECT_EQ(late_result.receipt, EDGE_AGENT_RECEIPT_NONE);
    EXPECT_EQ(late_result.seq, 0u);
  }
  // shutting_down with receipt durable: the waiting producer's record is stored, to be
  // delivered after the restart.
  edge_agent_result r{};
  int rc = edge_agent_read_result(waiter.get(), &r);
  EXPECT_EQ(rc, EDGE_AGENT_SHUTTING_DOWN) << Describe(rc, r);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_DURABLE);
  EXPECT_EQ(r.seq, 1u) << "the first record of a fresh ring";
  ASSERT_TRUE(daemon_.WaitForExit(std::chrono::milliseconds(opts_.drain_ms) + 60s));
  EXPECT_TRUE(daemon_.exited_cleanly()) << "wait status " << daemon_.wait_status();
}

TEST_F(DaemonTest, DropOldestKeepsAcceptingAndReportsTheDroppedRange) {
  auto closed_port = edge::test::PickFreePort();
  ASSERT_TRUE(closed_port.ok());
  opts_.broker_port = *closed_port;
  opts_.ring_size = "1MiB";
  opts_.full_policy = "drop_oldest";
  opts_.gap_report_route = "gaps";
  opts_.drain_ms = 1000;
  ASSERT_NO_FATAL_FAILURE(StartDaemon());

  // About 3 MiB into a 1 MiB ring with no broker: every send is still stored.
  constexpr int kRecords = 200;
  std::map<uint64_t, std::string> sent;
  {
    ClientConn c = Connect();
    ASSERT_TRUE(c);
    uint64_t prev = 0;
    for (int i = 0; i < kRecords; i++) {
      std::string p = Payload("telemetry", i, 16 << 10);
      uint64_t seq = SendDurable(c.get(), "main", p);
      ASSERT_GT(seq, prev) << "send " << i;
      prev = seq;
      sent[seq] = p;
    }
  }
  AgentStatus st = QueryStatus();
  ASSERT_TRUE(st.ok) << st.raw;
  EXPECT_FALSE(st.connected);
  EXPECT_EQ(st.full_policy, "drop_oldest");
  EXPECT_GT(st.dropped, 0u) << st.raw;
  EXPECT_EQ(st.rejected_ring_full, 0u) << st.raw;
  // Gap reports are ring records too: one may have been appended after the last send.
  EXPECT_GE(st.next_seq, sent.rbegin()->first + 1) << st.raw;
  EXPECT_GT(st.head_seq, 1u) << st.raw;
  EXPECT_EQ(st.ring_depth, st.next_seq - st.head_seq);
  EXPECT_EQ(st.dropped, st.head_seq - 1) << "dropped = everything below the head" << st.raw;
  const uint64_t first_kept = st.head_seq;
  const uint64_t dropped = st.dropped;

  // The dropped range, as the read-only ring tool shows it (from the persisted meta slot).
  const std::string gap = "unreported_gap   1.." + std::to_string(first_kept - 1);
  ProgramResult stats;
  const auto deadline = Clock::now() + 30s;
  do {
    stats = Cli({"ring", "stats", opts_.ring_path()});
    if (stats.exit_code == 0 && stats.output.find(gap) != std::string::npos) break;
    std::this_thread::sleep_for(200ms);
  } while (Clock::now() < deadline);
  EXPECT_NE(stats.output.find(gap), std::string::npos) << stats.output;

  // With a broker, exactly the kept records arrive, in order and intact, and gap reports
  // (route "gaps", made while the broker was away or after the restart) name the dropped
  // range. Once the broker settled a report, the range is no longer pending in the ring.
  ASSERT_NO_FATAL_FAILURE(StopDaemon());
  opts_.broker_port = broker_->amqps_port();
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_TRUE(WaitForStatus(
      [](const AgentStatus& s) { return s.connected && s.ring_depth == 0; }, kSettleTimeout, &st))
      << st.raw;
  EXPECT_EQ(st.dropped, dropped) << "the dropped count is persisted across restarts";
  const auto reported_by = Clock::now() + 30s;
  do {
    stats = Cli({"ring", "stats", opts_.ring_path()});
    if (stats.exit_code == 0 && stats.output.find("unreported_gap") == std::string::npos) break;
    std::this_thread::sleep_for(200ms);
  } while (Clock::now() < reported_by);
  EXPECT_EQ(stats.output.find("unreported_gap"), std::string::npos)
      << "the dropped range is still pending after the broker came back:\n" << stats.output;
  ASSERT_TRUE(WaitForStatus([](const AgentStatus& s) { return s.ring_depth == 0; },
                            kSettleTimeout, &st))
      << st.raw;

  std::set<std::string> expect;
  for (const auto& [seq, p] : sent) {
    if (seq >= first_kept) expect.insert(MessageId(seq));
  }
  std::set<uint64_t> seen;
  std::set<uint64_t> reported;  // every seq some gap report named
  int reports = 0;
  for (const Delivered& d : Consume(opts_.queue, expect)) {
    const uint64_t seq = test::SeqOfMessageId(d.message_id);
    if (d.Header("x-edge-route") == "gaps") {
      ASSERT_EQ(d.Header("edge-agent-report"), "gaps") << d.message_id;
      std::unique_ptr<cJSON, void (*)(cJSON*)> j(cJSON_Parse(d.body.c_str()), cJSON_Delete);
      ASSERT_TRUE(j && cJSON_IsObject(j.get())) << d.body;
      EXPECT_STREQ(cJSON_GetStringValue(cJSON_GetObjectItem(j.get(), "agent_id")),
                   opts_.agent_id.c_str());
      EXPECT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(j.get(), "approximate"))) << d.body;
      const cJSON* gaps = cJSON_GetObjectItem(j.get(), "gaps");
      ASSERT_TRUE(cJSON_IsArray(gaps)) << d.body;
      for (const cJSON* g = gaps->child; g != nullptr; g = g->next) {
        const auto first = static_cast<uint64_t>(cJSON_GetObjectItem(g, "first_seq")->valuedouble);
        const auto last = static_cast<uint64_t>(cJSON_GetObjectItem(g, "last_seq")->valuedouble);
        for (uint64_t s = first; s <= last; s++) reported.insert(s);
      }
      reports++;
      continue;
    }
    ASSERT_GE(seq, first_kept) << "a dropped record was delivered: " << d.message_id;
    ASSERT_EQ(d.body, sent[seq]) << d.message_id;
    seen.insert(seq);
  }
  EXPECT_EQ(seen.size(), expect.size());
  // The reports name exactly the dropped seqs: everything below the head, nothing kept.
  EXPECT_GE(reports, 1);
  ASSERT_FALSE(reported.empty());
  EXPECT_EQ(*reported.begin(), 1u);
  EXPECT_EQ(*reported.rbegin(), first_kept - 1);
  EXPECT_EQ(reported.size(), first_kept - 1) << "a dropped seq is missing from every report";
  std::printf("drop_oldest: sent=%d dropped=%llu delivered=%zu gap_reports=%d\n", kRecords,
              static_cast<unsigned long long>(dropped), seen.size(), reports);
}

TEST_F(DaemonTest, SigtermWhileLoadedLosesNothingAndTheRestartContinues) {
  opts_.ring_size = "64MiB";
  opts_.confirm_window = 256;
  ASSERT_NO_FATAL_FAILURE(StartDaemonConnected());
  AgentStatus st;

  // A producer pipelines batches of 16 until it gets anything but a durable receipt.
  struct ProducerLog {
    std::map<uint64_t, std::string> durable;  // seq -> payload
    int end_rc = EDGE_AGENT_OK;
    std::string end;
    std::string error;
  };
  std::atomic<uint64_t> total_durable{0};
  auto produce = [&](const std::string& tag, uint64_t max_records, ProducerLog* log) {
    edge_agent_conn* raw = nullptr;
    int rc = edge_agent_connect(opts_.intake_socket().c_str(), kClientTimeoutMs, &raw);
    ClientConn c(raw);
    if (rc != EDGE_AGENT_OK) {
      log->end_rc = rc;
      log->end = std::string("connect: ") + edge_agent_strerror(rc);
      return;
    }
    uint64_t i = 0;
    uint64_t prev_seq = 0;
    while (i < max_records) {
      int sent = 0;
      for (; sent < 16 && i + static_cast<uint64_t>(sent) < max_records; sent++) {
        std::string p = Payload(tag, i + static_cast<uint64_t>(sent), 64 + (i + sent) % 700);
        if (edge_agent_send_async(c.get(), "main", nullptr, 0, p.data(), p.size(), 0, nullptr) !=
            EDGE_AGENT_OK) {
          break;
        }
      }
      for (int k = 0; k < sent; k++, i++) {
        edge_agent_result r{};
        rc = edge_agent_read_result(c.get(), &r);
        if (rc != EDGE_AGENT_OK) {
          log->end_rc = rc;
          log->end = Describe(rc, r);
          return;
        }
        if (r.receipt != EDGE_AGENT_RECEIPT_DURABLE || r.seq <= prev_seq) {
          log->error = "bad answer: " + Describe(rc, r) + " after seq " + std::to_string(prev_seq);
          return;
        }
        prev_seq = r.seq;
        log->durable[r.seq] = Payload(tag, i, 64 + i % 700);
        total_durable++;
      }
      if (sent == 0) {
        edge_agent_result r{};
        log->end_rc = edge_agent_read_result(c.get(), &r);
        log->end = "send failed: " + Describe(log->end_rc, r);
        return;
      }
    }
  };

  constexpr int kProducers = 4;
  std::vector<ProducerLog> before(kProducers);
  std::vector<std::thread> threads;
  for (int k = 0; k < kProducers; k++) {
    threads.emplace_back(produce, "a" + std::to_string(k), UINT64_MAX, &before[k]);
  }
  // Mid-stream: plenty durable, the broker confirming, producers still going.
  const auto deadline = Clock::now() + kSettleTimeout;
  while (total_durable.load() < 4000 && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
  AgentStatus before_stop = QueryStatus();
  EXPECT_TRUE(before_stop.ok) << before_stop.raw;
  EXPECT_GT(before_stop.confirmed, 0u) << before_stop.raw;
  daemon_.Signal(SIGTERM);  // kill(pid, SIGTERM)
  for (auto& t : threads) t.join();
  threads.clear();
  ASSERT_TRUE(daemon_.WaitForExit(std::chrono::milliseconds(opts_.drain_ms) + 60s))
      << "no exit within the drain deadline";
  ASSERT_TRUE(daemon_.exited_cleanly()) << "wait status " << daemon_.wait_status();
  EXPECT_NE(ReadWholeFile(opts_.log_path()).find("unconfirmed record(s) stay in the ring"),
            std::string::npos);

  std::map<uint64_t, std::string> durable;
  for (int k = 0; k < kProducers; k++) {
    EXPECT_EQ(before[k].error, "") << "producer " << k;
    // Each producer ends on the stop: `shutting_down` (not stored) or a closed connection.
    EXPECT_TRUE(before[k].end_rc == EDGE_AGENT_SHUTTING_DOWN ||
                before[k].end_rc == EDGE_AGENT_E_CLOSED)
        << "producer " << k << " ended with " << before[k].end;
    for (const auto& [seq, p] : before[k].durable) {
      EXPECT_TRUE(durable.emplace(seq, p).second) << "seq " << seq << " given twice";
    }
  }
  ASSERT_GE(durable.size(), 4000u);
  const uint64_t last_seq_before = durable.rbegin()->first;

  // Restart with the same config: the ring continues, seqs are never reused.
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  std::vector<ProducerLog> after(2);
  for (int k = 0; k < 2; k++) threads.emplace_back(produce, "b" + std::to_string(k), 300, &after[k]);
  for (auto& t : threads) t.join();
  for (int k = 0; k < 2; k++) {
    ASSERT_EQ(after[k].error, "");
    ASSERT_EQ(after[k].end_rc, EDGE_AGENT_OK) << after[k].end;
    ASSERT_EQ(after[k].durable.size(), 300u);
    EXPECT_GT(after[k].durable.begin()->first, last_seq_before) << "a seq was reused";
    for (const auto& [seq, p] : after[k].durable) {
      EXPECT_TRUE(durable.emplace(seq, p).second) << "seq " << seq << " given twice";
    }
  }
  ASSERT_TRUE(WaitForStatus(
      [](const AgentStatus& s) { return s.connected && s.ring_depth == 0; }, kSettleTimeout, &st))
      << st.raw;
  EXPECT_GT(st.epoch, before_stop.epoch) << "a new boot epoch after the restart";

  std::set<std::string> expect;
  for (const auto& [seq, p] : durable) expect.insert(MessageId(seq));
  std::set<uint64_t> seen;
  uint64_t duplicates = 0;
  uint64_t unreceipted = 0;
  for (const Delivered& d : Consume(opts_.queue, expect)) {
    const uint64_t seq = test::SeqOfMessageId(d.message_id);
    if (!seen.insert(seq).second) {
      duplicates++;
      continue;
    }
    auto it = durable.find(seq);
    if (it == durable.end()) {
      // Stored but never answered (the connection ended first): allowed, must be intact.
      unreceipted++;
      EXPECT_TRUE(WellFormedPayload(d.body)) << d.message_id;
      continue;
    }
    ASSERT_EQ(d.body, it->second) << d.message_id;
  }
  for (const auto& [seq, p] : durable) {
    ASSERT_TRUE(seen.count(seq)) << "seq " << seq << " had a durable receipt but is missing";
  }
  EXPECT_LE(duplicates, static_cast<uint64_t>(opts_.confirm_window))
      << "duplicates beyond the unconfirmed window";
  std::printf("sigterm: durable=%zu delivered=%zu duplicates=%llu unreceipted=%llu\n",
              durable.size(), seen.size(), static_cast<unsigned long long>(duplicates),
              static_cast<unsigned long long>(unreceipted));
}

TEST_F(DaemonTest, SighupReloadsBrokerCredentialsForTheNextConnection) {
  ASSERT_NO_FATAL_FAILURE(StartDaemonConnected());
  AgentStatus st;
  std::map<uint64_t, std::string> sent;
  ClientConn c = Connect();
  ASSERT_TRUE(c);
  for (int i = 0; i < 5; i++) {
    std::string p = Payload("before-rotation", i, 200);
    uint64_t seq = SendDurable(c.get(), "main", p);
    ASSERT_GT(seq, 0u);
    sent[seq] = p;
  }
  ASSERT_TRUE(WaitForStatus([](const AgentStatus& s) { return s.ring_depth == 0; },
                            kSettleTimeout, &st))
      << st.raw;

  // The operator rotates the password on the broker; the broker drops the agent's connection.
  const uint64_t failures_before = st.connect_failures;
  const std::string rotated = "rotated-" + std::to_string(::getpid()) + "-" + Unique("pw");
  Status s = broker_->Ctl({"change_password", broker_->user(), rotated});
  ASSERT_TRUE(s.ok()) << s.ToString();
  *password_ = rotated;  // TearDown restores the fixture's password
  s = broker_->Ctl({"close_all_connections", "--global", "edge-agent daemon test: rotation"});
  ASSERT_TRUE(s.ok()) << s.ToString();

  // Without a reload the agent keeps the old password: refused, nothing delivered.
  ASSERT_TRUE(WaitForStatus(
      [&](const AgentStatus& x) { return !x.connected && x.connect_failures > failures_before; },
      kSettleTimeout, &st))
      << st.raw;
  EXPECT_TRUE(WaitForLog("ACCESS_REFUSED", 10s)) << "no authentication error in the log";
  for (int i = 0; i < 5; i++) {
    std::string p = Payload("during-rotation", i, 200);
    uint64_t seq = SendDurable(c.get(), "main", p);
    ASSERT_GT(seq, 0u);
    sent[seq] = p;
  }
  st = QueryStatus();
  ASSERT_TRUE(st.ok) << st.raw;
  EXPECT_FALSE(st.connected) << st.raw;
  EXPECT_GE(st.ring_depth, 5u) << st.raw;

  // The new password in the file, SIGHUP: the next connection uses it and everything arrives.
  // (After a refused login the agent waits its refused back-off, 60 s, before the next try;
  // the reload does not shorten that, so this wait is long.)
  Status rotated_written =
      test::WriteFileAtomically(opts_.password_path(), rotated + "\n", 0600);
  ASSERT_TRUE(rotated_written.ok()) << rotated_written.ToString();
  daemon_.Signal(SIGHUP);
  EXPECT_TRUE(WaitForLog("reloaded", 30s)) << "SIGHUP not acknowledged in the log";
  ASSERT_TRUE(WaitForStatus(
      [](const AgentStatus& x) { return x.connected && x.ring_depth == 0; }, 180s, &st))
      << st.raw;
  edge_agent_set_timeout(c.get(), kWaitConfirmedClientTimeoutMs);
  edge_agent_result r{};
  const std::string last = Payload("after-reload", 0, 200);
  int rc = edge_agent_send(c.get(), "main", nullptr, 0, last.data(), last.size(),
                           EDGE_AGENT_WAIT_CONFIRMED, &r);
  ASSERT_EQ(rc, EDGE_AGENT_OK) << Describe(rc, r);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_CONFIRMED);
  sent[r.seq] = last;

  std::set<std::string> expect;
  for (const auto& [seq, p] : sent) expect.insert(MessageId(seq));
  for (const Delivered& d : Consume(opts_.queue, expect)) {
    auto it = sent.find(test::SeqOfMessageId(d.message_id));
    ASSERT_NE(it, sent.end()) << d.message_id;
    EXPECT_EQ(d.body, it->second) << d.message_id;
  }
}

TEST_F(DaemonTest, StatusReportsRingDepthConnectionAndCounters) {
  ASSERT_NO_FATAL_FAILURE(StartDaemonConnected());
  AgentStatus st;
  constexpr uint64_t kMessages = 50;
  {
    ClientConn c = Connect();
    ASSERT_TRUE(c);
    for (uint64_t i = 0; i < kMessages; i++) {
      ASSERT_GT(SendDurable(c.get(), "main", Payload("status", i, 500)), 0u);
    }
  }
  ASSERT_TRUE(WaitForStatus(
      [&](const AgentStatus& s) { return s.confirmed >= kMessages && s.ring_depth == 0; },
      kSettleTimeout, &st))
      << st.raw;

  // `edge-agent status --json --socket CONTROL`, parsed.
  ProgramResult json = Cli({"status", "--json", "--socket", opts_.control_socket()});
  ASSERT_EQ(json.exit_code, 0) << json.output;
  st = AgentStatus();
  ASSERT_TRUE(ParseStatusJson(json.output, &st)) << json.output;
  EXPECT_EQ(st.agent_id, kAgentId);
  EXPECT_TRUE(st.connected);
  EXPECT_NE(st.endpoint.find(std::to_string(broker_->amqps_port())), std::string::npos)
      << st.endpoint;
  EXPECT_EQ(st.full_policy, "reject");
  EXPECT_EQ(st.ring_bytes, 16ull << 20);
  EXPECT_EQ(st.ring_depth, 0u);
  EXPECT_EQ(st.next_seq, st.head_seq);
  EXPECT_EQ(st.oldest_unconfirmed_age_ms, 0u);
  EXPECT_GE(st.published, kMessages);
  EXPECT_GE(st.confirmed, kMessages);
  EXPECT_EQ(st.in_flight, 0u);
  EXPECT_EQ(st.confirm_lag, 0u);
  EXPECT_EQ(st.dropped, 0u);
  EXPECT_EQ(st.rejected_ring_full, 0u);
  EXPECT_GE(st.answers["ok"], kMessages);

  // The human-readable form, and the socket found through the config file.
  ProgramResult text = Cli({"status", "--socket", opts_.control_socket()});
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find(kAgentId), std::string::npos) << text.output;
  ProgramResult by_config = Cli({"status", "--json", "--config", opts_.config_path()});
  EXPECT_EQ(by_config.exit_code, 0) << by_config.output;
  AgentStatus again;
  EXPECT_TRUE(ParseStatusJson(by_config.output, &again)) << by_config.output;
  EXPECT_EQ(again.agent_id, kAgentId);
}

// A binding was missing: payloads on "nowhere" came back from the broker and were kept in the
// dead-letter file. `edge-agent dead-letters requeue` hands them back: first on a route the
// agent does not know (every entry kept, in the file moved aside), then from that file on the
// mended route ("main"): each arrives once, byte for byte, with its own headers and
// edge-requeued-from naming the entry it was. An entry requeued while its cause is not mended
// comes back into the dead-letter file: never lost.
TEST_F(DaemonTest, DeadLettersRequeueHandsEveryEntryBackOnceTheRouteIsMended) {
  ASSERT_NO_FATAL_FAILURE(StartDaemonConnected());
  ClientConn c = ConnectForConfirms();
  ASSERT_TRUE(c);
  constexpr int kEntries = 20;
  std::map<std::string, std::string> returned;  // old message_id -> payload
  for (int i = 0; i < kEntries; i++) {
    const std::string payload = Payload("returned", i, 1 + i * 97);
    const std::string device = "sensor-" + std::to_string(i);
    const edge_agent_header h = {"device", device.c_str(), device.size()};
    edge_agent_result r{};
    int rc = edge_agent_send(c.get(), "nowhere", &h, 1, payload.data(), payload.size(),
                             EDGE_AGENT_WAIT_CONFIRMED, &r);
    ASSERT_EQ(rc, EDGE_AGENT_NOT_DELIVERED) << Describe(rc, r);
    returned[MessageId(r.seq)] = payload;
  }
  const std::string dlf = opts_.dead_letter_path();
  ProgramResult list = Cli({"dead-letters", "list", dlf});
  EXPECT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("20 entries: returned 20"), std::string::npos) << list.output;

  // A route the agent does not know: the file is moved aside and every entry stays in it.
  ProgramResult r = Cli({"dead-letters", "requeue", "--config", opts_.config_path(), "--route",
                         "no-such-route"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  const std::string marker = "moved the dead-letter file aside to ";
  const size_t at = r.output.find(marker);
  ASSERT_NE(at, std::string::npos) << r.output;
  const size_t start = at + marker.size();
  const std::string moved = r.output.substr(start, r.output.find('\n', start) - start);
  EXPECT_EQ(moved.rfind(dlf + ".requeue-", 0), 0u) << moved;
  EXPECT_NE(r.output.find("unknown_route"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("20 kept in " + moved), std::string::npos) << r.output;
  auto kept = publish::DeadLetterFile::ReadAll(port::FileSystem::Posix(), moved);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  ASSERT_EQ(kept->size(), static_cast<size_t>(kEntries));
  auto fresh = publish::DeadLetterFile::ReadAll(port::FileSystem::Posix(), dlf);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_TRUE(fresh->empty()) << "the agent started an empty file";

  // The agent goes on dead-lettering into its new file meanwhile.
  const std::string late = Payload("late", 99, 300);
  edge_agent_result lr{};
  int rc = edge_agent_send(c.get(), "nowhere", nullptr, 0, late.data(), late.size(),
                           EDGE_AGENT_WAIT_CONFIRMED, &lr);
  ASSERT_EQ(rc, EDGE_AGENT_NOT_DELIVERED) << Describe(rc, lr);

  // The mended route, from the moved file: every entry, and the moved file is gone.
  r = Cli({"dead-letters", "requeue", "--config", opts_.config_path(), "--file", moved, "--route",
           "main"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("requeued 20 of 20 entries"), std::string::npos) << r.output;
  EXPECT_FALSE(port::FileSystem::Posix()->Exists(moved)) << r.output;

  std::map<std::string, int> arrived = ConsumeRequeued(returned);  // old message_id -> times
  EXPECT_EQ(arrived.size(), returned.size());
  for (const auto& [from, n] : arrived) EXPECT_EQ(n, 1) << from;

  // The agent's own file now (no --file): the late entry, on its own route, which is still
  // not mended. It is requeued, the broker returns it again, and it is dead-lettered again.
  r = Cli({"dead-letters", "requeue", "--config", opts_.config_path()});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("requeued 1 of 1 entries"), std::string::npos) << r.output;
  AgentStatus st;
  ASSERT_TRUE(WaitForStatus(
      [](const AgentStatus& s) { return s.dead_lettered == kEntries + 2 && s.ring_depth == 0; },
      kSettleTimeout, &st))
      << st.raw;
  auto back = publish::DeadLetterFile::ReadAll(port::FileSystem::Posix(), dlf);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ(back->front().payload, late);
  bool names_it = false;
  for (const auto& [k, v] : back->front().headers) {
    names_it |= k == "edge-requeued-from" && v == MessageId(lr.seq);
  }
  EXPECT_TRUE(names_it) << "the new entry names the one it was";
}

// Requeue sends many entries before reading their answers; each answer must be matched to its
// own entry. 300 entries (several windows) alternate between a route the agent knows and one
// it does not: exactly the refused ones stay in the moved file, in their order, and every other
// one arrives once, byte for byte. The accepted ones hold about 2.5 times what the agent's
// 1 MiB ring does: requeue must wait for the forwarder to make room (ring_full is back-pressure)
// rather than stop half-way.
TEST_F(DaemonTest, DeadLettersRequeueKeepsExactlyTheRefusedEntriesOfAPipelinedRun) {
  opts_.ring_size = "1MiB";
  ASSERT_NO_FATAL_FAILURE(StartDaemonConnected());
  constexpr uint64_t entries = 300;
  const std::string moved = opts_.dead_letter_path() + ".requeue-1";
  std::map<std::string, std::string> mended;  // old message_id -> payload
  std::vector<uint64_t> refused;
  std::vector<publish::DeadLetter> written;
  ASSERT_NO_FATAL_FAILURE(WriteDeadLetterFile(
      moved, entries,
      [](publish::DeadLetter* e) {
        if (e->seq % 3 == 0) e->route = "no-such-route";
        e->reason = "returned";
        e->headers = {{"device", "sensor-" + std::to_string(e->seq)}};
        e->payload = Payload("pipelined", e->seq, 8000 + e->seq * 37);
      },
      &written));
  for (const publish::DeadLetter& e : written) {
    if (e.route == "main") {
      mended[e.message_id()] = e.payload;
    } else {
      refused.push_back(e.seq);
    }
  }
  ProgramResult r = Cli({"dead-letters", "requeue", "--config", opts_.config_path(), "--file",
                         moved});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("requeued " + std::to_string(mended.size()) + " of " +
                          std::to_string(entries) + " entries; " +
                          std::to_string(refused.size()) + " kept in " + moved),
            std::string::npos)
      << r.output;
  auto kept = publish::DeadLetterFile::ReadAll(port::FileSystem::Posix(), moved);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  std::vector<uint64_t> kept_seqs;
  for (const publish::DeadLetter& e : *kept) {
    kept_seqs.push_back(e.seq);
    EXPECT_EQ(e.payload, Payload("pipelined", e.seq, 8000 + e.seq * 37)) << e.seq;
  }
  EXPECT_EQ(kept_seqs, refused);
  std::map<std::string, int> arrived = ConsumeRequeued(mended);
  EXPECT_EQ(arrived.size(), mended.size());
  for (const auto& [from, n] : arrived) EXPECT_EQ(n, 1) << from;
}

// With no broker the agent's ring fills and stays full: requeue says it waits, stops after
// --timeout-ms without progress, and keeps exactly what the ring did not take. Once the broker
// is reachable, the requeued entries arrive once each, and a second run hands over the rest.
TEST_F(DaemonTest, DeadLettersRequeueStopsWhenTheRingStaysFullAndKeepsWhatItCouldNotHandOver) {
  auto closed_port = edge::test::PickFreePort();
  ASSERT_TRUE(closed_port.ok());
  const int broker_port = opts_.broker_port;
  opts_.broker_port = *closed_port;
  opts_.ring_size = "1MiB";
  opts_.drain_ms = 1000;
  ASSERT_NO_FATAL_FAILURE(StartDaemon());

  constexpr uint64_t entries = 150;  // about 2.4 MiB: more than the 1 MiB ring holds
  const std::string moved = opts_.dead_letter_path() + ".requeue-1";
  std::vector<publish::DeadLetter> written;
  ASSERT_NO_FATAL_FAILURE(WriteDeadLetterFile(
      moved, entries,
      [](publish::DeadLetter* e) {
        e->headers = {{"device", "sensor-" + std::to_string(e->seq)}};
        e->payload = Payload("full-ring", e->seq, (16 << 10) + e->seq);
      },
      &written));
  std::map<uint64_t, std::string> payloads;
  for (const publish::DeadLetter& e : written) payloads[e.seq] = e.payload;
  ProgramResult r = Cli({"dead-letters", "requeue", "--config", opts_.config_path(), "--file",
                         moved, "--timeout-ms", "1500"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("the agent's ring is full: waiting up to 1500 ms"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("the agent's ring stayed full for 1500 ms; stopping"),
            std::string::npos)
      << r.output;
  auto kept = publish::DeadLetterFile::ReadAll(port::FileSystem::Posix(), moved);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  ASSERT_GT(kept->size(), 0u) << r.output;
  ASSERT_LT(kept->size(), entries) << "the ring took nothing: " << r.output;
  std::map<std::string, std::string> kept_ids;
  for (const publish::DeadLetter& e : *kept) {
    EXPECT_EQ(e.payload, payloads[e.seq]) << e.seq;
    EXPECT_TRUE(kept_ids.emplace(e.message_id(), e.payload).second) << e.seq << " kept twice";
  }
  std::map<std::string, std::string> requeued;
  for (const auto& [seq, payload] : payloads) {
    const std::string id = std::string(kAgentId) + ":" + std::to_string(seq);
    if (kept_ids.count(id) == 0) requeued[id] = payload;
  }
  EXPECT_NE(r.output.find("requeued " + std::to_string(requeued.size()) + " of " +
                          std::to_string(entries) + " entries; " +
                          std::to_string(kept->size()) + " kept in " + moved),
            std::string::npos)
      << r.output;

  // The broker comes within reach: the ring drains, and only the entries requeued arrive (a
  // kept one arriving would be named "not a requeued entry"), each once.
  ASSERT_NO_FATAL_FAILURE(StopDaemon());
  opts_.broker_port = broker_port;
  ASSERT_NO_FATAL_FAILURE(StartDaemonConnected());
  std::map<std::string, int> arrived = ConsumeRequeued(requeued);
  EXPECT_EQ(arrived.size(), requeued.size());
  for (const auto& [from, n] : arrived) EXPECT_EQ(n, 1) << from;

  // `--file MOVED` takes up the rest, as the output advised.
  r = Cli({"dead-letters", "requeue", "--config", opts_.config_path(), "--file", moved});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("requeued " + std::to_string(kept_ids.size()) + " of " +
                          std::to_string(kept_ids.size()) + " entries; removed " + moved),
            std::string::npos)
      << r.output;
  arrived = ConsumeRequeued(kept_ids);
  EXPECT_EQ(arrived.size(), kept_ids.size());
  for (const auto& [from, n] : arrived) EXPECT_EQ(n, 1) << from;
}

// Bad input to `edge-agent dead-letters` gets an error that names the problem, and an entry is
// never dropped on the way: with no agent to take them, a moved file keeps every entry.
TEST_F(DaemonTest, DeadLettersCommandNamesEachProblemAndKeepsEntriesWhenNoAgentAnswers) {
  ProgramResult r = Cli({"dead-letters"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("list or requeue?"), std::string::npos) << r.output;
  r = Cli({"dead-letters", "requeue", "--frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("unexpected argument '--frobnicate'"), std::string::npos) << r.output;
  r = Cli({"dead-letters", "list", dir_ + "/missing.jsonl"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find(dir_ + "/missing.jsonl"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("No such file"), std::string::npos) << r.output;
  r = Cli({"dead-letters", "requeue", "--control", dir_ + "/no-agent.sock"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("cannot reach the agent's control socket"), std::string::npos)
      << r.output;

  // A file moved aside earlier, and no agent at the intake socket.
  const std::string moved = dir_ + "/dead-letters.jsonl.requeue-1";
  std::vector<publish::DeadLetter> written;
  ASSERT_NO_FATAL_FAILURE(WriteDeadLetterFile(
      moved, 3, [](publish::DeadLetter* e) { e->payload = Payload("kept", e->seq, 50); },
      &written));
  r = Cli({"dead-letters", "requeue", "--file", moved, "--socket", dir_ + "/no-agent.sock"});
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("nothing was requeued, the 3 entries are in " + moved),
            std::string::npos)
      << r.output;
  auto kept = publish::DeadLetterFile::ReadAll(port::FileSystem::Posix(), moved);
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_EQ(kept->size(), 3u);
  r = Cli({"dead-letters", "list", moved});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(std::string(kAgentId) + ":2\t"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("3 entries: nacked 3"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace edge::daemon
