// Hostile local clients against the real daemon, while well-behaved producers keep sending.
//
// The real `edge-agent run` binary (max_connections 32, idle_timeout_s 2, max_frame_bytes
// 64 KiB) forwards over TLS to a private RabbitMQ node. Two well-behaved producers connect
// first and pipeline payloads through the C client for the whole run. Meanwhile the main thread
// plays, one after the other: oversized frames, malformed frames (fixed kinds and seeded random
// garbage), connections half-closed (shutdown(SHUT_WR)) mid-frame and after whole frames,
// slowloris connections (a byte every 200 ms of a frame that never ends), clients that pipeline
// as fast as they can and never read their answers, a flood of connections beyond
// max_connections, and hundreds of connect/close cycles.
//
// What must hold:
// - every hostile client gets what the protocol promises (too_large or bad_frame, then the
//   agent closes; answers for whole frames before a half-close; slowloris closed by the idle
//   timeout; connections over the limit closed at once), and never a hang;
// - the well-behaved producers get a `durable` receipt for every payload, during all of it;
// - every durable record (theirs and the half-closed client's) reaches the consumer
//   byte-identical, nothing else arrives but self-describing payloads, and a new well-behaved
//   connection is served once the hostile ones are gone;
// - the daemon exits cleanly on SIGTERM and `edge-agent ring verify` is clean.
// Waits are bounded polls on conditions; no assertion depends on how long something took.
// EDGE_TORTURE_HOSTILE_ROUNDS=N repeats the hostile sequence N times (default 1).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/client/edge_agent_client.h"
#include "agent/intake/protocol.h"
#include "port/unix_socket.h"
#include "tests/support/agent_process.h"
#include "tests/support/broker_fixture.h"
#include "tests/support/queue_reader.h"
#include "tests/support/reliability_line.h"
#include "tests/support/test_payload.h"

namespace edge::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using intake::Answer;
using intake::AnswerCode;

constexpr const char* kAgentBinary = EDGE_AGENT_BINARY;
constexpr int kMaxConnections = 32;
constexpr int kIdleTimeoutS = 2;
constexpr uint32_t kMaxFrameBytes = 64 << 10;
constexpr int kWellBehaved = 2;
constexpr int kTimeoutMs = 60000;  // a bound on waiting, never a pass/fail threshold
constexpr auto kSettleTimeout = 180s;

std::string Frame(const std::string& route, const std::string& payload) {
  intake::SendRequest req;
  req.route = route;
  req.payload = payload;
  std::string f;
  EXPECT_TRUE(intake::EncodeSend(req, &f));
  return f;
}

std::string Be32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; i++) s[i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
  return s;
}

// Reads answers until the agent closes the connection (or the bound). *closed: it did.
std::vector<Answer> ReadUntilClosed(int fd, bool* closed) {
  std::vector<Answer> out;
  std::string buf;
  *closed = false;
  char chunk[4096];
  const auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (Clock::now() < deadline) {
    size_t n = 0;
    Status s = port::ReadSomeWithin(fd, chunk, sizeof(chunk), &n, kTimeoutMs);
    if (!s.ok()) {
      *closed = s.code() == Code::kUnavailable;  // a reset counts as closed
      return out;
    }
    if (n == 0) {
      *closed = true;
      return out;
    }
    buf.append(chunk, n);
    for (;;) {
      Answer a;
      long used = intake::DecodeAnswer(buf, &a);
      if (used <= 0) break;
      out.push_back(a);
      buf.erase(0, static_cast<size_t>(used));
    }
  }
  return out;
}

port::UniqueFd MustConnect(const std::string& path) {
  auto fd = port::ConnectUnix(path, kTimeoutMs);
  EXPECT_TRUE(fd.ok()) << fd.status().ToString();
  return fd.ok() ? std::move(fd).value() : port::UniqueFd();
}

// A well-behaved producer: one connection made before the hostile clients come, payloads
// pipelined 8 deep until stop; every answer must be `durable`.
struct Producer {
  std::map<uint64_t, std::string> acked;
  std::vector<std::string> problems;
};

void RunWellBehaved(int k, const std::string& socket, const std::atomic<bool>* stop,
                    std::atomic<uint64_t>* progress, Producer* out) {
  edge_agent_conn* c = nullptr;
  int rc = edge_agent_connect(socket.c_str(), kTimeoutMs, &c);
  if (rc != EDGE_AGENT_OK) {
    out->problems.push_back(std::string("connect: ") + edge_agent_strerror(rc));
    return;
  }
  const std::string tag = "good" + std::to_string(k);
  std::deque<std::string> outstanding;
  uint64_t i = 0;
  while (!stop->load() || !outstanding.empty()) {
    while (!stop->load() && outstanding.size() < 8) {
      std::string p = Payload(tag, i, (i * 131) % 300);
      i++;
      rc = edge_agent_send_async(c, "main", nullptr, 0, p.data(), p.size(), 0, nullptr);
      if (rc != EDGE_AGENT_OK) {
        out->problems.push_back(tag + " send: " + edge_agent_strerror(rc));
        edge_agent_close(c);
        return;
      }
      outstanding.push_back(std::move(p));
    }
    edge_agent_result r{};
    rc = edge_agent_read_result(c, &r);
    if (rc != EDGE_AGENT_OK || r.receipt != EDGE_AGENT_RECEIPT_DURABLE) {
      out->problems.push_back(tag + " answer: " + edge_agent_strerror(rc) + ": " + r.message);
      edge_agent_close(c);
      return;
    }
    out->acked.emplace(r.seq, outstanding.front());
    outstanding.pop_front();
    // A steady producer, not a flood: the ring must not fill up with its backlog.
    if (progress->fetch_add(1) % 8 == 7) std::this_thread::sleep_for(2ms);
  }
  edge_agent_close(c);
}

class HostileClients : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = BrokerFixture::Start();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
    char tmpl[] = "/var/tmp/edge-hostile-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    o_.agent_id = "gw-hostile";
    o_.dir = tmpl;
    o_.broker_port = broker_->amqps_port();
    o_.exchange = "edge-hostile-x";
    o_.queue = "edge-hostile-q";
    o_.max_frame_bytes = std::to_string(kMaxFrameBytes);
    o_.max_connections = kMaxConnections;
    o_.idle_timeout_s = kIdleTimeoutS;
    o_.ring_size = "64MiB";
    Status s = WriteAgentConfig(o_, *broker_, broker_->password());
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = agent_.Start({kAgentBinary, "run", "--config", o_.config_path()}, o_.log_path());
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = WaitForAgentReady(&agent_, kAgentBinary, o_, 60s);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << FileTail(o_.log_path(), 4000);
  }
  void TearDown() override {
    agent_.Kill();
    if (HasFailure()) {
      std::printf("--- daemon log ---\n%s\n", FileTail(o_.log_path(), 12000).c_str());
    }
    std::system(("rm -rf '" + o_.dir + "'").c_str());
  }

  // Waits (bounded) until the well-behaved producers made more progress: they are served.
  void ExpectWellBehavedServed(const char* during) {
    const uint64_t before = progress_.load();
    const auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
    while (progress_.load() < before + 50 && Clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_GE(progress_.load(), before + 50) << "well-behaved producers stalled " << during;
  }

  // A counter from `edge-agent status --json` ("intake_connections_refused", ...): what an
  // operator sees of the hostile clients.
  uint64_t StatusCounter(const std::string& name) {
    ProgramResult r =
        RunProgram({kAgentBinary, "status", "--json", "--socket", o_.control_socket()}, 30s);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const std::string key = "\"" + name + "\":";
    const size_t at = r.output.find(key);
    EXPECT_NE(at, std::string::npos) << name << " missing from: " << r.output;
    if (at == std::string::npos) return 0;
    return std::strtoull(r.output.c_str() + at + key.size(), nullptr, 10);
  }

  void OversizedFrames() {
    const uint64_t bad_before = StatusCounter("intake_connections_bad_frame");
    for (uint32_t len : {kMaxFrameBytes + 1, 0x7fffffffu, 0xffffffffu}) {
      port::UniqueFd fd = MustConnect(o_.intake_socket());
      // A valid SEND head claiming len bytes; the body never comes.
      std::string head = Be32(len) + std::string("\x01\x00", 2) + Be32(77);
      ASSERT_TRUE(port::WriteAll(fd.get(), head.data(), head.size(), kTimeoutMs).ok());
      bool closed = false;
      std::vector<Answer> answers = ReadUntilClosed(fd.get(), &closed);
      EXPECT_TRUE(closed) << "frame_len " << len;
      ASSERT_EQ(answers.size(), 1u) << "frame_len " << len;
      EXPECT_EQ(answers[0].code, AnswerCode::kTooLarge) << answers[0].text;
      EXPECT_EQ(answers[0].request_id, 77u);
      hostile_++;
    }
    EXPECT_EQ(StatusCounter("intake_connections_bad_frame"), bad_before + 3)
        << "status does not count the connections closed for an oversized frame";
  }

  void MalformedFrames(std::mt19937_64* rng) {
    const std::string good_payload = Payload("garbage", 0, 50);
    const std::string good = Frame("main", good_payload);
    std::vector<std::string> bad = {
        Be32(3),                                                  // shorter than a SEND head
        Be32(20) + std::string("\x02\x00", 2) + Be32(1) + std::string(10, 'a'),  // type
        Be32(20) + std::string("\x01\x80", 2) + Be32(2) + std::string(10, 'a'),  // flags
        Be32(10) + std::string("\x01\x00", 2) + Be32(3) + std::string(4, '\0'),  // route_len 0
        Be32(12) + std::string("\x01\x00", 2) + Be32(4) + std::string("\x00\x09\x00\x00", 4) +
            "ab",                                                 // route beyond the frame
        Be32(16) + std::string("\x01\x00", 2) + Be32(5) +
            std::string("\x00\x01\x00\x01", 4) + "m" + std::string("\x00\x00\x00", 3),  // header
    };
    for (int i = 0; i < 40; i++) {  // seeded garbage, sometimes after a good frame
      std::string g = (i % 2 == 0) ? good : "";
      const size_t n = 1 + (*rng)() % 300;
      for (size_t k = 0; k < n; k++) g.push_back(static_cast<char>((*rng)() & 0xff));
      bad.push_back(g);
    }
    for (const std::string& bytes : bad) {
      port::UniqueFd fd = MustConnect(o_.intake_socket());
      ASSERT_TRUE(port::WriteAll(fd.get(), bytes.data(), bytes.size(), kTimeoutMs).ok());
      ::shutdown(fd.get(), SHUT_WR);
      bool closed = false;
      std::vector<Answer> answers = ReadUntilClosed(fd.get(), &closed);
      EXPECT_TRUE(closed);
      for (const Answer& a : answers) {
        // A good frame's answer, or the verdict on the garbage; never anything else.
        EXPECT_TRUE(a.code == AnswerCode::kOk || a.code == AnswerCode::kBadFrame ||
                    a.code == AnswerCode::kTooLarge || a.code == AnswerCode::kUnknownRoute)
            << static_cast<int>(a.code) << ": " << a.text;
        if (a.code == AnswerCode::kOk) {
          garbage_acked_++;
          if (a.seq > 0) other_acked_.emplace(a.seq, good_payload);
        }
      }
      hostile_++;
    }
  }

  void HalfClosed() {
    // Mid-frame: the agent drops the partial frame and closes, answering nothing.
    const std::string f = Frame("main", Payload("half", 0, 100));
    {
      port::UniqueFd fd = MustConnect(o_.intake_socket());
      ASSERT_TRUE(port::WriteAll(fd.get(), f.data(), f.size() / 2, kTimeoutMs).ok());
      ::shutdown(fd.get(), SHUT_WR);
      bool closed = false;
      EXPECT_TRUE(ReadUntilClosed(fd.get(), &closed).empty());
      EXPECT_TRUE(closed);
      hostile_++;
    }
    // After whole frames: each is answered durable, then the agent closes.
    port::UniqueFd fd = MustConnect(o_.intake_socket());
    std::vector<std::string> payloads;
    std::string bytes;
    for (int i = 0; i < 5; i++) {
      payloads.push_back(Payload("halfclosed", static_cast<uint64_t>(i), 300));
      bytes += Frame("main", payloads.back());
    }
    ASSERT_TRUE(port::WriteAll(fd.get(), bytes.data(), bytes.size(), kTimeoutMs).ok());
    ::shutdown(fd.get(), SHUT_WR);
    bool closed = false;
    std::vector<Answer> answers = ReadUntilClosed(fd.get(), &closed);
    EXPECT_TRUE(closed);
    ASSERT_EQ(answers.size(), payloads.size());
    for (size_t i = 0; i < answers.size(); i++) {
      EXPECT_EQ(answers[i].code, AnswerCode::kOk) << answers[i].text;
      EXPECT_EQ(answers[i].receipt, intake::Receipt::kDurable);
      if (answers[i].code == AnswerCode::kOk) other_acked_.emplace(answers[i].seq, payloads[i]);
    }
    hostile_++;
  }

  void Slowloris() {
    // A byte every 200 ms of a frame that never ends: each connection is closed by the idle
    // timeout (2 s), since a partial frame is no progress.
    constexpr int kSlow = 6;
    const std::string f = Frame("main", std::string(60000, 's'));
    std::vector<port::UniqueFd> fds;
    for (int i = 0; i < kSlow; i++) fds.push_back(MustConnect(o_.intake_socket()));
    std::vector<bool> closed(kSlow, false);
    int open = kSlow;
    const auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
    for (size_t at = 0; open > 0 && at < f.size() && Clock::now() < deadline; at++) {
      for (int i = 0; i < kSlow; i++) {
        if (closed[i]) continue;
        size_t w = 0;
        Status s = port::WriteSome(fds[i].get(), f.data() + at, 1, &w);
        char b;
        size_t n = 0;
        Status r = port::ReadSome(fds[i].get(), &b, 1, &n);
        if (!s.ok() || (r.ok() && n == 0) || (!r.ok() && !port::IsWouldBlock(r))) {
          closed[i] = true;
          open--;
        }
      }
      std::this_thread::sleep_for(200ms);
    }
    EXPECT_EQ(open, 0) << "slowloris connections the agent never closed";
    hostile_ += kSlow;
  }

  void NonReaders() {
    // Pipeline as fast as possible and never read an answer: the agent stops reading them
    // (back-pressure) and the write stalls; their memory stays bounded.
    constexpr int kHogs = 3;
    std::string burst;
    for (int i = 0; i < 200; i++) {
      burst += Frame("main", Payload("hog", static_cast<uint64_t>(i), 100));
    }
    std::vector<port::UniqueFd> hogs;
    for (int h = 0; h < kHogs; h++) {
      hogs.push_back(MustConnect(o_.intake_socket()));
      Status s;
      for (int round = 0; round < 500 && s.ok(); round++) {
        s = port::WriteAll(hogs.back().get(), burst.data(), burst.size(), 1000);
      }
      EXPECT_EQ(s.code(), Code::kTimeout) << "a client that never reads was never held back: "
                                          << s.ToString();
    }
    ExpectWellBehavedServed("while clients that never read hold their connections");
    hostile_ += kHogs;
  }

  void ConnectionFlood() {
    // Twice max_connections at once: those over the limit are closed at once.
    const uint64_t refused_before = StatusCounter("intake_connections_refused");
    std::vector<port::UniqueFd> flood;
    for (int i = 0; i < 2 * kMaxConnections; i++) {
      auto fd = port::ConnectUnix(o_.intake_socket(), kTimeoutMs);
      if (fd.ok()) flood.push_back(std::move(fd).value());
    }
    ExpectWellBehavedServed("while max_connections are taken");
    // Every flood connection ends closed: over the limit at once, the others by the idle
    // timeout; `status` counts the refused ones (intake_server_test covers the refusal itself).
    for (port::UniqueFd& fd : flood) {
      bool closed = false;
      EXPECT_TRUE(ReadUntilClosed(fd.get(), &closed).empty());
      EXPECT_TRUE(closed);
    }
    // At least one: twice the limit were queued at once (how many exactly depends on how many
    // the idle timeout freed meanwhile).
    EXPECT_GT(StatusCounter("intake_connections_refused"), refused_before)
        << "status does not show the connections refused over max_connections";
    hostile_ += flood.size();
    flood.clear();
    // Hundreds of connect/close cycles.
    for (int i = 0; i < 300; i++) {
      auto fd = port::ConnectUnix(o_.intake_socket(), kTimeoutMs);
      if (fd.ok() && i % 3 == 0) (void)port::WriteAll(fd->get(), "\x00\x00", 2, 1000);
    }
    hostile_ += 300;
  }

  std::unique_ptr<BrokerFixture> broker_;
  AgentOptions o_;
  AgentProcess agent_;
  std::atomic<uint64_t> progress_{0};
  uint64_t hostile_ = 0;        // hostile connections made
  uint64_t garbage_acked_ = 0;  // random garbage that happened to hold a good frame
  std::map<uint64_t, std::string> other_acked_;
};

TEST_F(HostileClients, WellBehavedProducersAreServedAndTheRingStaysSound) {
  const char* rounds_env = std::getenv("EDGE_TORTURE_HOSTILE_ROUNDS");
  const int rounds = rounds_env != nullptr ? std::max(1, std::atoi(rounds_env)) : 1;
  std::atomic<bool> stop{false};
  std::vector<Producer> good(kWellBehaved);
  std::vector<std::thread> threads;
  for (int k = 0; k < kWellBehaved; k++) {
    threads.emplace_back(RunWellBehaved, k, o_.intake_socket(), &stop, &progress_, &good[k]);
  }
  struct Joiner {
    std::atomic<bool>* stop;
    std::vector<std::thread>* threads;
    ~Joiner() {
      stop->store(true);
      for (std::thread& t : *threads) t.join();
      threads->clear();
    }
  } joiner{&stop, &threads};
  ExpectWellBehavedServed("before the hostile clients came");

  std::mt19937_64 rng(20261125);
  const auto t0 = Clock::now();
  auto phase = [&](const char* name) {
    std::printf("hostile: %s done at %lld ms\n", name,
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           Clock::now() - t0)
                                           .count()));
  };
  for (int round = 0; round < rounds; round++) {
    ASSERT_NO_FATAL_FAILURE(OversizedFrames());
    phase("oversized");
    ASSERT_NO_FATAL_FAILURE(MalformedFrames(&rng));
    phase("malformed");
    ASSERT_NO_FATAL_FAILURE(HalfClosed());
    ExpectWellBehavedServed("after malformed and half-closed clients");
    phase("half-closed");
    ASSERT_NO_FATAL_FAILURE(Slowloris());
    phase("slowloris");
    ASSERT_NO_FATAL_FAILURE(NonReaders());
    phase("non-readers");
    ASSERT_NO_FATAL_FAILURE(ConnectionFlood());
    phase("flood");
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  threads.clear();

  // Once the hostile connections are gone, a new well-behaved connection is served.
  std::map<uint64_t, std::string> expect = other_acked_;
  edge_agent_conn* c = nullptr;
  const auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (edge_agent_connect(o_.intake_socket().c_str(), kTimeoutMs, &c) == EDGE_AGENT_OK) {
    const std::string p = Payload("after", 0, 10);
    edge_agent_result r{};
    if (edge_agent_send(c, "main", nullptr, 0, p.data(), p.size(), 0, &r) == EDGE_AGENT_OK) break;
    edge_agent_close(c);  // closed as one over max_connections while the flood drains
    c = nullptr;
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_NE(c, nullptr) << "a new connection was never served";
  for (uint64_t i = 1; i <= 100; i++) {
    const std::string p = Payload("after", i, 500);
    edge_agent_result r{};
    ASSERT_EQ(edge_agent_send(c, "main", nullptr, 0, p.data(), p.size(), 0, &r), EDGE_AGENT_OK)
        << r.message;
    expect.emplace(r.seq, p);
  }
  edge_agent_close(c);

  for (const Producer& p : good) {
    for (const std::string& problem : p.problems) ADD_FAILURE() << problem;
    for (const auto& [seq, payload] : p.acked) {
      EXPECT_TRUE(expect.emplace(seq, payload).second) << "seq " << seq << " given twice";
    }
  }

  phase("well-behaved stopped; new connection served");
  // Everything durable reaches the consumer; nothing but self-describing payloads arrives.
  auto reader = QueueReader::Open(*broker_, broker_->password(), o_.queue);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::map<uint64_t, std::string> got;
  uint64_t duplicates = 0;
  const auto settle = Clock::now() + kSettleTimeout;
  auto quiet_since = Clock::now();
  std::set<uint64_t> missing;
  for (const auto& [seq, p] : expect) missing.insert(seq);
  for (;;) {
    if ((missing.empty() && Clock::now() - quiet_since >= 2s) || Clock::now() >= settle) break;
    Result<ConsumedMessage> m = reader.value()->Next(300ms);
    if (m.status().code() == Code::kTimeout) continue;
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    quiet_since = Clock::now();
    ASSERT_TRUE(WellFormedPayload(m->body)) << m->message_id << ": a body nobody sent";
    const uint64_t seq = SeqOfMessageId(m->message_id);
    missing.erase(seq);
    if (!got.emplace(seq, m->body).second) duplicates++;
  }
  uint64_t lost = 0;
  for (const auto& [seq, p] : expect) {
    auto it = got.find(seq);
    if ((it == got.end() || it->second != p) && lost++ < 5) {
      ADD_FAILURE() << "durable seq " << seq << " did not arrive intact";
    }
  }
  EXPECT_EQ(duplicates, 0u) << "duplicates without any reconnect";

  phase("consumed");
  // Peak memory of the daemon, for the record (its bound is proven in intake_server_test).
  std::string peak = "?";
  {
    std::ifstream st("/proc/" + std::to_string(agent_.pid()) + "/status");
    std::string line;
    while (std::getline(st, line)) {
      if (line.rfind("VmHWM:", 0) == 0) peak = line.substr(line.find_first_not_of(" \t", 6));
    }
  }
  agent_.Signal(SIGTERM);
  EXPECT_TRUE(agent_.WaitForExit(60s));
  EXPECT_TRUE(agent_.exited_cleanly()) << "wait status " << agent_.wait_status();
  ProgramResult verify = RunProgram({kAgentBinary, "ring", "verify", o_.ring_path()}, 60s);
  EXPECT_EQ(verify.exit_code, 0) << verify.output;

  std::printf("hostile: rounds=%d hostile_connections=%llu durable_checked=%zu lost=%llu "
              "garbage_acked=%llu daemon_peak_rss=\"%s\"\n",
              rounds, static_cast<unsigned long long>(hostile_), expect.size(),
              static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(garbage_acked_), peak.c_str());
  ReliabilityLine line;
  line.suite = "daemon-hostile-clients";
  line.family = "torture";
  line.count = hostile_;
  line.records = expect.size();
  line.lost = lost;
  line.duplicates = duplicates;
  line.injects = "oversized and malformed frames, random garbage, half-closed sockets, "
                 "slowloris, clients that never read, connection floods beyond max_connections, "
                 "against the real binary while well-behaved producers send";
  line.reproduce = "EDGE_TORTURE_HOSTILE_ROUNDS=" + std::to_string(rounds) +
                   " ctest --test-dir build/native -R daemon_hostile_clients_test "
                   "--output-on-failure";
  PrintReliabilityLine(line);
}

}  // namespace
}  // namespace edge::test
