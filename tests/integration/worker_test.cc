// The worker against a real RabbitMQ node: workers over TLS, real handler processes (small
// shell scripts written at test time), a test producer publishing straight to the broker over
// plaintext with rabbitmq-c, and checks made on what users rely on: each task's side effects,
// the dead-letter queue's contents, the reply a requester gets.
//
// Timing assertions are lower bounds only (the retry back-off); upper bounds are generous
// waits, never assertions about speed.
#include "agent/worker/worker.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "agent/amqp/connection.h"
#include "agent/worker/retry_topology.h"
#include "tests/support/broker_fixture.h"
#include "tests/support/child_process.h"
#include "tests/support/shared_broker_test.h"

namespace edge::worker {
namespace {

using edge::test::BrokerFixture;
using std::chrono::milliseconds;
using std::chrono::seconds;
constexpr amqp_channel_t kChannel = amqp::Connection::kChannel;

// What the test producer sends.
struct Task {
  Task(std::string b, std::string id) : body(std::move(b)), message_id(std::move(id)) {}
  Task& Rpc(std::string correlation, std::string reply_queue) {
    correlation_id = std::move(correlation);
    reply_to = std::move(reply_queue);
    return *this;
  }
  Task& Header(std::string key, std::string value) {
    string_headers.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  std::string body;
  std::string message_id;
  std::string correlation_id;
  std::string reply_to;
  std::vector<std::pair<std::string, std::string>> string_headers;
  std::optional<int64_t> attempts;  // x-edge-attempts
};

// A message read back from a queue.
struct Got {
  std::string body;
  std::string message_id;
  std::string correlation_id;
  std::map<std::string, std::string> strings;  // string headers
  std::map<std::string, int64_t> ints;         // integer headers
};

// A Worker on its own thread.
class RunningWorker {
 public:
  explicit RunningWorker(WorkerOptions options) : worker_(std::move(options)) {
    thread_ = std::thread([this] { result_ = worker_.Run(); });
  }
  ~RunningWorker() { (void)StopAndJoin(); }
  Status StopAndJoin() {
    worker_.Stop();
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  WorkerStats stats() const { return worker_.stats(); }

 private:
  Worker worker_;
  Status result_;
  std::thread thread_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream s(text);
  for (std::string line; std::getline(s, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Polls `done` until it holds or `limit` passes (a generous upper bound, not an assertion).
bool WaitFor(const std::function<bool()>& done, milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return done();
}

class WorkerTest : public test::SharedBrokerTest<WorkerTest> {
 protected:
  void SetUp() override {
    SharedBrokerTest::SetUp();
    if (HasFatalFailure()) return;
    char tmpl[] = "/tmp/edge-worker-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::chmod(dir_.c_str(), 0755);
    auto c = amqp::Connection::Connect(PlainEndpoint());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    producer_ = std::move(c).value();
    queue_ =
        "edge-work-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override {
    producer_.reset();
    for (pid_t pgid : strays_) ::kill(-pgid, SIGKILL);  // handlers orphaned on purpose, by pid
    if (std::getenv("EDGE_TEST_KEEP_WORKER_DIR") == nullptr) {
      std::system(("rm -rf '" + dir_ + "'").c_str());
    }
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
    return e;
  }
  amqp::Endpoint PlainEndpoint() const {
    amqp::Endpoint e = TlsEndpoint();
    e.security = port::TransportSecurity::kPlaintext;
    e.port = broker_->amqp_port();
    e.connection_name = "worker test producer";
    return e;
  }

  // Writes an executable /bin/sh script into the test directory.
  std::string Script(const std::string& name, const std::string& body) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    ::chmod(path.c_str(), 0755);
    return path;
  }

  WorkerOptions Options(const std::string& script, const std::string& worker_name) const {
    WorkerOptions o;
    o.endpoints = {TlsEndpoint()};
    o.queue = queue_;
    o.handler_argv = {script, dir_, worker_name};
    o.timeout_s = 20;
    o.retry_delays_ms = {200};
    o.reconnect_initial_ms = 100;
    o.reconnect_max_ms = 1000;
    o.agent_id = "gw-" + worker_name;
    return o;
  }

  // Declares the work queue as the worker does (idempotent), so tasks published before a
  // worker connected are kept rather than dropped as unroutable.
  void DeclareWorkQueue() {
    amqp_queue_declare(producer_->state(), kChannel, amqp_cstring_bytes(queue_.c_str()), 0, 1, 0, 0,
                       amqp_empty_table);
    ASSERT_TRUE(producer_->CheckLastRpc("declare " + queue_).ok());
  }

  void Publish(const std::string& queue, const Task& t) {
    std::vector<amqp_table_entry_t> headers;
    for (const auto& [k, v] : t.string_headers) {
      amqp_table_entry_t e{};
      e.key = amqp_cstring_bytes(k.c_str());
      e.value.kind = AMQP_FIELD_KIND_UTF8;
      e.value.value.bytes = amqp_cstring_bytes(v.c_str());
      headers.push_back(e);
    }
    if (t.attempts) {
      amqp_table_entry_t e{};
      e.key = amqp_cstring_bytes("x-edge-attempts");
      e.value.kind = AMQP_FIELD_KIND_I64;
      e.value.value.i64 = *t.attempts;
      headers.push_back(e);
    }
    amqp_basic_properties_t p{};
    p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
    p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    p.content_type = amqp_cstring_bytes("text/plain");
    if (!t.message_id.empty()) {
      p._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
      p.message_id = amqp_cstring_bytes(t.message_id.c_str());
    }
    if (!t.correlation_id.empty()) {
      p._flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
      p.correlation_id = amqp_cstring_bytes(t.correlation_id.c_str());
    }
    if (!t.reply_to.empty()) {
      p._flags |= AMQP_BASIC_REPLY_TO_FLAG;
      p.reply_to = amqp_cstring_bytes(t.reply_to.c_str());
    }
    if (!headers.empty()) {
      p._flags |= AMQP_BASIC_HEADERS_FLAG;
      p.headers.num_entries = static_cast<int>(headers.size());
      p.headers.entries = headers.data();
    }
    amqp_bytes_t body;
    body.len = t.body.size();
    body.bytes = const_cast<char*>(t.body.data());
    int rc = amqp_basic_publish(producer_->state(), kChannel, amqp_empty_bytes,
                                amqp_cstring_bytes(queue.c_str()), 0, 0, &p, body);
    ASSERT_EQ(rc, AMQP_STATUS_OK);
  }

  // basic.get (auto-ack) of one message, if the queue has one.
  std::optional<Got> Get(const std::string& queue) {
    amqp_connection_state_t st = producer_->state();
    amqp_maybe_release_buffers(st);
    amqp_rpc_reply_t r = amqp_basic_get(st, kChannel, amqp_cstring_bytes(queue.c_str()), 1);
    EXPECT_TRUE(producer_->CheckReply(r, "basic.get " + queue).ok());
    if (r.reply_type != AMQP_RESPONSE_NORMAL || r.reply.id != AMQP_BASIC_GET_OK_METHOD) {
      return std::nullopt;
    }
    amqp_message_t m;
    r = amqp_read_message(st, kChannel, &m, 0);
    EXPECT_TRUE(producer_->CheckReply(r, "read " + queue).ok());
    if (r.reply_type != AMQP_RESPONSE_NORMAL) return std::nullopt;
    Got g;
    g.body = std::string(View(m.body));
    const amqp_basic_properties_t& p = m.properties;
    if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) g.message_id = std::string(View(p.message_id));
    if (p._flags & AMQP_BASIC_CORRELATION_ID_FLAG) {
      g.correlation_id = std::string(View(p.correlation_id));
    }
    if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
      for (int i = 0; i < p.headers.num_entries; i++) {
        const amqp_table_entry_t& h = p.headers.entries[i];
        const std::string key(View(h.key));
        if (h.value.kind == AMQP_FIELD_KIND_UTF8 || h.value.kind == AMQP_FIELD_KIND_BYTES) {
          g.strings[key] = std::string(View(h.value.value.bytes));
        } else if (h.value.kind == AMQP_FIELD_KIND_I64) {
          g.ints[key] = h.value.value.i64;
        } else if (h.value.kind == AMQP_FIELD_KIND_I32) {
          g.ints[key] = h.value.value.i32;
        }
      }
    }
    amqp_destroy_message(&m);
    return g;
  }

  // Messages ready in an existing queue.
  uint32_t Depth(const std::string& queue) {
    auto* ok = amqp_queue_declare(producer_->state(), kChannel, amqp_cstring_bytes(queue.c_str()),
                                  /*passive=*/1, 0, 0, 0, amqp_empty_table);
    EXPECT_TRUE(producer_->CheckLastRpc("passive declare " + queue).ok());
    return ok != nullptr ? ok->message_count : 0;
  }

  std::string dir_;
  std::string queue_;
  std::unique_ptr<amqp::Connection> producer_;
  std::vector<pid_t> strays_;
};

TEST_F(WorkerTest, ThreeWorkersShareThreeHundredTasksEachHandledExactlyOnce) {
  // Each worker appends the ids it handled to its own file (one handler at a time per worker,
  // so appends never interleave). A short sleep makes the work take long enough for the
  // broker's prefetch-1 dispatch to show: whoever is free gets the next task.
  const std::string script = Script("record.sh",
                                    "cat > /dev/null\n"
                                    "sleep 0.02\n"
                                    "echo \"$EDGE_MESSAGE_ID\" >> \"$1/handled.$2\"\n");
  DeclareWorkQueue();
  std::vector<std::unique_ptr<RunningWorker>> workers;
  const std::vector<std::string> names = {"a", "b", "c"};
  for (const std::string& n : names) {
    workers.push_back(std::make_unique<RunningWorker>(Options(script, n)));
  }
  ASSERT_TRUE(WaitFor(
      [&] {
        for (auto& w : workers) {
          if (!w->stats().connected) return false;
        }
        return true;
      },
      seconds(30)))
      << "workers did not connect: " << workers[0]->stats().last_error;

  constexpr int kTasks = 300;
  for (int i = 0; i < kTasks; i++) {
    Publish(queue_, Task("task " + std::to_string(i), "task-" + std::to_string(i)));
  }
  auto handled = [&] {
    uint64_t n = 0;
    for (auto& w : workers) n += w->stats().handled_ok;
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return handled() >= kTasks; }, seconds(120)))
      << "handled " << handled() << " of " << kTasks;
  std::this_thread::sleep_for(milliseconds(500));  // anything extra would show up now
  for (auto& w : workers) EXPECT_TRUE(w->StopAndJoin().ok());

  std::multiset<std::string> seen;
  for (const std::string& n : names) {
    const std::vector<std::string> ids = Lines(ReadFile(dir_ + "/handled." + n));
    EXPECT_FALSE(ids.empty()) << "worker " << n << " handled nothing: the load was not shared";
    seen.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kTasks));
  for (int i = 0; i < kTasks; i++) {
    EXPECT_EQ(seen.count("task-" + std::to_string(i)), 1u) << "task-" << i;
  }
  EXPECT_EQ(handled(), static_cast<uint64_t>(kTasks));
  EXPECT_EQ(Depth(queue_), 0u);
  EXPECT_EQ(Depth(DeadLetterQueueName(queue_)), 0u);
}

TEST_F(WorkerTest, HandlerThatFailsTwiceIsAckedAfterTheThirdAttemptWithBackoff) {
  // The handler logs its attempt number and start time (ns), and fails until attempt 3.
  const std::string script = Script("flaky.sh",
                                    "echo \"$EDGE_ATTEMPT $(date +%s%N)\" >> "
                                    "\"$1/attempts.$EDGE_MESSAGE_ID\"\n"
                                    "[ \"$EDGE_ATTEMPT\" -ge 3 ]\n");
  WorkerOptions o = Options(script, "w");
  o.retry_delays_ms = {200, 400};
  RunningWorker w(o);
  DeclareWorkQueue();
  Publish(queue_, Task("flaky work", "flaky-1"));

  ASSERT_TRUE(WaitFor([&] { return w.stats().handled_ok == 1; }, seconds(60)))
      << "attempts so far:\n"
      << ReadFile(dir_ + "/attempts.flaky-1");
  const WorkerStats s = w.stats();
  EXPECT_TRUE(w.StopAndJoin().ok());
  EXPECT_EQ(s.failed, 2u);
  EXPECT_EQ(s.retried, 2u);
  EXPECT_EQ(s.dead_lettered, 0u);

  const std::vector<std::string> lines = Lines(ReadFile(dir_ + "/attempts.flaky-1"));
  ASSERT_EQ(lines.size(), 3u);
  std::vector<int64_t> start_ms;
  for (size_t i = 0; i < lines.size(); i++) {
    std::istringstream in(lines[i]);
    int attempt = 0;
    int64_t ns = 0;
    in >> attempt >> ns;
    EXPECT_EQ(attempt, static_cast<int>(i) + 1);
    start_ms.push_back(ns / 1000000);
  }
  // Lower bounds only: each retry waited at least its configured delay in the retry queue.
  EXPECT_GE(start_ms[1] - start_ms[0], 200) << "attempt 2 came too early";
  EXPECT_GE(start_ms[2] - start_ms[1], 400) << "attempt 3 came too early";
  EXPECT_EQ(Depth(queue_), 0u);
  EXPECT_EQ(Depth(RetryQueueName(queue_, 200)), 0u);
  EXPECT_EQ(Depth(RetryQueueName(queue_, 400)), 0u);
  EXPECT_EQ(Depth(DeadLetterQueueName(queue_)), 0u);
}

TEST_F(WorkerTest, HandlerThatAlwaysFailsEndsInTheDeadLetterQueueAfterExactlyNAttempts) {
  const std::string script = Script("broken.sh",
                                    "echo \"$EDGE_ATTEMPT\" >> \"$1/attempts.$EDGE_MESSAGE_ID\"\n"
                                    "echo \"disk on fire at attempt $EDGE_ATTEMPT\" >&2\n"
                                    "exit 3\n");
  WorkerOptions o = Options(script, "w");
  o.max_attempts = 4;
  o.retry_delays_ms = {50, 100};
  RunningWorker w(o);
  DeclareWorkQueue();
  Publish(queue_, Task("doomed work", "doomed-1").Header("x-trace", "trace-77"));

  ASSERT_TRUE(WaitFor([&] { return w.stats().dead_lettered == 1; }, seconds(60)))
      << "attempts so far:\n"
      << ReadFile(dir_ + "/attempts.doomed-1");
  const WorkerStats s = w.stats();
  EXPECT_TRUE(w.StopAndJoin().ok());
  EXPECT_EQ(s.failed, 4u);
  EXPECT_EQ(s.retried, 3u);
  EXPECT_EQ(s.handled_ok, 0u);
  EXPECT_EQ(Lines(ReadFile(dir_ + "/attempts.doomed-1")),
            (std::vector<std::string>{"1", "2", "3", "4"}));

  std::optional<Got> dead = Get(DeadLetterQueueName(queue_));
  ASSERT_TRUE(dead.has_value()) << "nothing in " << DeadLetterQueueName(queue_);
  EXPECT_EQ(dead->body, "doomed work");
  EXPECT_EQ(dead->message_id, "doomed-1");
  EXPECT_EQ(dead->ints["x-edge-attempts"], 4);
  EXPECT_EQ(dead->strings["x-edge-last-error"], "exit code 3");
  EXPECT_EQ(dead->ints["x-edge-last-exit-code"], 3);
  EXPECT_NE(dead->strings["x-edge-stderr-tail"].find("disk on fire at attempt 4"),
            std::string::npos)
      << dead->strings["x-edge-stderr-tail"];
  EXPECT_EQ(dead->strings["x-trace"], "trace-77") << "the producer's headers must survive";
  EXPECT_FALSE(Get(DeadLetterQueueName(queue_)).has_value()) << "dead-lettered twice";
  EXPECT_EQ(Depth(queue_), 0u);
}

TEST_F(WorkerTest, MessageAlreadyPastItsAttemptLimitGoesStraightToTheDeadLetterQueue) {
  const std::string script = Script("never.sh", "touch \"$1/ran.$EDGE_MESSAGE_ID\"\n");
  RunningWorker w(Options(script, "w"));  // max_attempts 5
  DeclareWorkQueue();
  Task t("old work", "old-1");
  t.Header("x-edge-last-error", "exit code 9");
  t.attempts = 6;  // attempt 6 of 5: must not run again
  Publish(queue_, t);

  ASSERT_TRUE(WaitFor([&] { return w.stats().dead_lettered == 1; }, seconds(30)));
  EXPECT_TRUE(w.StopAndJoin().ok());
  EXPECT_FALSE(Exists(dir_ + "/ran.old-1")) << "the handler ran past the attempt limit";
  std::optional<Got> dead = Get(DeadLetterQueueName(queue_));
  ASSERT_TRUE(dead.has_value());
  EXPECT_EQ(dead->ints["x-edge-attempts"], 5);
  EXPECT_EQ(dead->strings["x-edge-last-error"],
            "attempt 6 exceeds max_attempts 5 (last: exit code 9)");
}

TEST_F(WorkerTest, HangingHandlerIsKilledAtTheTimeoutAndRetried) {
  // Attempt 1 hangs (sleep 60, then would leave a mark); attempt 2 records why attempt 1 ended.
  const std::string script = Script("hang.sh",
                                    "if [ \"$EDGE_ATTEMPT\" = 1 ]; then\n"
                                    "  sleep 60\n"
                                    "  touch \"$1/late.$EDGE_MESSAGE_ID\"\n"
                                    "  exit 0\n"
                                    "fi\n"
                                    "echo \"$EDGE_HEADER_X_EDGE_LAST_ERROR\" > "
                                    "\"$1/last_error.$EDGE_MESSAGE_ID\"\n");
  WorkerOptions o = Options(script, "w");
  o.timeout_s = 1;
  o.retry_delays_ms = {100};
  RunningWorker w(o);
  DeclareWorkQueue();
  Publish(queue_, Task("slow work", "hang-1"));

  ASSERT_TRUE(WaitFor([&] { return w.stats().handled_ok == 1; }, seconds(45)))
      << w.stats().last_error;
  const WorkerStats s = w.stats();
  EXPECT_TRUE(w.StopAndJoin().ok());
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.retried, 1u);
  EXPECT_EQ(ReadFile(dir_ + "/last_error.hang-1"), "timed out after 1 s\n");
  EXPECT_FALSE(Exists(dir_ + "/late.hang-1")) << "the hanging handler was not killed";
}

TEST_F(WorkerTest, WorkerKilledMidTaskLosesNothing) {
  // The handler records that it started (with EDGE_REDELIVERED and its pid), the victim's copy
  // then works for a long time, and a finished task leaves its payload in done.<id>.<worker>.
  const std::string script = Script("slow.sh",
                                    "echo \"$EDGE_REDELIVERED $$\" > "
                                    "\"$1/started.$EDGE_MESSAGE_ID.$2\"\n"
                                    "if [ \"$2\" = victim ]; then sleep 60; fi\n"
                                    "cat > \"$1/done.$EDGE_MESSAGE_ID.$2\"\n");
  DeclareWorkQueue();
  test::SpawnOptions so;
  so.argv = {EDGE_WORKER_TEST_HELPER,
             "127.0.0.1",
             std::to_string(broker_->amqps_port()),
             broker_->certs().ca(),
             broker_->user(),
             queue_,
             "20",
             script,
             dir_,
             "victim"};
  so.env = {{"PATH", "/usr/bin:/bin"}, {"EDGE_TEST_BROKER_PASSWORD", broker_->password()}};
  so.output_file = dir_ + "/victim.log";
  test::ChildProcess victim;
  ASSERT_TRUE(victim.Spawn(so).ok());

  Publish(queue_, Task("precious payload", "precious-1"));
  const std::string started_victim = dir_ + "/started.precious-1.victim";
  ASSERT_TRUE(WaitFor([&] { return Lines(ReadFile(started_victim)).size() == 1; }, seconds(30)))
      << test::FileTail(so.output_file);
  std::istringstream started(ReadFile(started_victim));
  int redelivered = -1;
  pid_t handler_pid = 0;
  started >> redelivered >> handler_pid;
  EXPECT_EQ(redelivered, 0);
  if (handler_pid > 0) strays_.push_back(handler_pid);  // its group, in case it outlives us

  // A second worker joins; the task is the victim's (unacked), so it gets nothing yet.
  RunningWorker survivor(Options(script, "survivor"));
  ASSERT_TRUE(WaitFor([&] { return survivor.stats().connected; }, seconds(30)));
  victim.Signal(SIGKILL);
  ASSERT_TRUE(victim.WaitForExit(milliseconds(10000)));

  const std::string done = dir_ + "/done.precious-1.survivor";
  ASSERT_TRUE(WaitFor([&] { return ReadFile(done) == "precious payload"; }, seconds(60)))
      << "the task was lost with the killed worker";
  EXPECT_TRUE(survivor.StopAndJoin().ok());
  EXPECT_EQ(ReadFile(dir_ + "/started.precious-1.survivor").substr(0, 1), "1")
      << "the broker's redelivery must be visible as EDGE_REDELIVERED=1";
  EXPECT_EQ(survivor.stats().handled_ok, 1u);
  // The victim's handler died with its worker (PR_SET_PDEATHSIG) instead of finishing the task
  // a second time in parallel.
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_FALSE(Exists(dir_ + "/done.precious-1.victim"));
  EXPECT_EQ(Depth(queue_), 0u);
}

TEST_F(WorkerTest, RpcRequestGetsTheHandlersOutputWithItsCorrelationId) {
  const std::string script = Script("pong.sh", "printf 'pong:'\ncat\n");
  RunningWorker w(Options(script, "w"));
  DeclareWorkQueue();
  // The requester's private reply queue (server-named, exclusive).
  auto* declared = amqp_queue_declare(producer_->state(), kChannel, amqp_empty_bytes, 0, 0,
                                      /*exclusive=*/1, /*auto_delete=*/1, amqp_empty_table);
  ASSERT_TRUE(producer_->CheckLastRpc("declare reply queue").ok());
  ASSERT_NE(declared, nullptr);
  const std::string reply_queue(View(declared->queue));

  for (int i = 0; i < 3; i++) {
    Publish(queue_, Task("ping-" + std::to_string(i), "rpc-" + std::to_string(i))
                        .Rpc("corr-" + std::to_string(i), reply_queue));
  }
  std::map<std::string, std::string> replies;  // correlation id -> body
  ASSERT_TRUE(WaitFor(
      [&] {
        while (std::optional<Got> g = Get(reply_queue)) replies[g->correlation_id] = g->body;
        return replies.size() == 3;
      },
      seconds(30)));
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(replies["corr-" + std::to_string(i)], "pong:ping-" + std::to_string(i));
  }
  EXPECT_EQ(w.stats().replies, 3u);
  EXPECT_TRUE(w.StopAndJoin().ok());
}

TEST_F(WorkerTest, DuplicateDeliveriesAreVisibleToTheHandler) {
  // A producer that re-sent a message (same message_id) after the first copy was handled.
  const std::string script = Script("seen.sh",
                                    "echo \"$EDGE_MESSAGE_ID dup=$EDGE_DUPLICATE "
                                    "redelivered=$EDGE_REDELIVERED\" >> \"$1/seen\"\n");
  RunningWorker w(Options(script, "w"));
  DeclareWorkQueue();
  Publish(queue_, Task("charge card", "order-1"));
  Publish(queue_, Task("charge card", "order-2"));
  Publish(queue_, Task("charge card", "order-1"));
  ASSERT_TRUE(WaitFor([&] { return w.stats().handled_ok == 3; }, seconds(30)));
  EXPECT_TRUE(w.StopAndJoin().ok());
  EXPECT_EQ(Lines(ReadFile(dir_ + "/seen")),
            (std::vector<std::string>{"order-1 dup=0 redelivered=0", "order-2 dup=0 redelivered=0",
                                      "order-1 dup=1 redelivered=0"}));
}

TEST_F(WorkerTest, StopFinishesTheTaskInHandAndAcksIt) {
  const std::string script = Script("steady.sh",
                                    "touch \"$1/started.$EDGE_MESSAGE_ID\"\n"
                                    "sleep 1\n"
                                    "cat > \"$1/done.$EDGE_MESSAGE_ID\"\n");
  auto w = std::make_unique<RunningWorker>(Options(script, "w"));
  DeclareWorkQueue();
  Publish(queue_, Task("in hand", "stop-1"));
  Publish(queue_, Task("next", "stop-2"));
  ASSERT_TRUE(WaitFor([&] { return Exists(dir_ + "/started.stop-1"); }, seconds(30)));
  EXPECT_TRUE(w->StopAndJoin().ok());
  EXPECT_EQ(ReadFile(dir_ + "/done.stop-1"), "in hand");
  EXPECT_EQ(w->stats().handled_ok, 1u);
  EXPECT_FALSE(Exists(dir_ + "/started.stop-2")) << "a new task was started after Stop()";
  EXPECT_EQ(Depth(queue_), 1u) << "the task not started must be back in the queue";
}

TEST_F(WorkerTest, HandlerLongerThanTheHeartbeatTimeoutKeepsTheConnection) {
  // heartbeat 1 s: without heartbeats sent while the handler runs, the broker would close the
  // connection after about 2 s and the task would be redelivered.
  const std::string script = Script("long.sh", "sleep 6\ntouch \"$1/done.$EDGE_MESSAGE_ID\"\n");
  WorkerOptions o = Options(script, "w");
  o.endpoints[0].heartbeat_s = 1;
  RunningWorker w(o);
  DeclareWorkQueue();
  Publish(queue_, Task("long work", "long-1"));
  ASSERT_TRUE(WaitFor([&] { return w.stats().handled_ok == 1; }, seconds(60)))
      << w.stats().last_error;
  const WorkerStats s = w.stats();
  EXPECT_TRUE(w.StopAndJoin().ok());
  EXPECT_EQ(s.reconnects, 0u) << s.last_error;
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(Depth(queue_), 0u);
}

TEST_F(WorkerTest, QuorumQueuesRetryAndDeadLetterTheSameWay) {
  const std::string script = Script("fail.sh",
                                    "echo \"$EDGE_ATTEMPT\" >> \"$1/attempts.$EDGE_MESSAGE_ID\"\n"
                                    "exit 4\n");
  WorkerOptions o = Options(script, "w");
  o.quorum = true;
  o.max_attempts = 3;
  o.retry_delays_ms = {100};
  RunningWorker w(o);
  // The worker declares the quorum queues; publish once they exist.
  ASSERT_TRUE(WaitFor([&] { return w.stats().connected; }, seconds(30))) << w.stats().last_error;
  Publish(queue_, Task("quorum work", "quorum-1"));
  ASSERT_TRUE(WaitFor([&] { return w.stats().dead_lettered == 1; }, seconds(60)))
      << w.stats().last_error;
  EXPECT_TRUE(w.StopAndJoin().ok());
  EXPECT_EQ(Lines(ReadFile(dir_ + "/attempts.quorum-1")),
            (std::vector<std::string>{"1", "2", "3"}));
  std::optional<Got> dead = Get(DeadLetterQueueName(queue_));
  ASSERT_TRUE(dead.has_value());
  EXPECT_EQ(dead->ints["x-edge-attempts"], 3);
  EXPECT_EQ(dead->strings["x-edge-last-error"], "exit code 4");
}

TEST_F(WorkerTest, MissingHandlerProgramIsAConfigErrorAtStart) {
  WorkerOptions o = Options(dir_ + "/no-such-handler", "w");
  Worker w(o);
  Status s = w.Run();
  EXPECT_EQ(s.code(), Code::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("no-such-handler"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace edge::worker
