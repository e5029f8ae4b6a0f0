// The intake end to end: a real Ring on the simulated file system, the real IntakeServer on a
// Unix socket in a temp directory, driven through the C client (and raw sockets for clients
// that misbehave). Waits are bounded; nothing passes or fails on how long something took.
#include "agent/intake/intake_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/client/edge_agent_client.h"
#include "agent/envelope/envelope.h"
#include "agent/intake/confirm_tracker.h"
#include "agent/intake/protocol.h"
#include "agent/ring/ring.h"
#include "port/sim_fs.h"
#include "port/unix_socket.h"

namespace edge::intake {
namespace {

constexpr char kRingPath[] = "/var/lib/edge-agent/ring";
constexpr int kClientTimeoutMs = 20000;  // a bound on waiting, never a pass/fail threshold

ring::RingOptions SmallRing() {
  ring::RingOptions o;
  o.segment_bytes = 64 << 10;
  o.file_bytes = ring::kDataOffset + 16 * (64 << 10);
  return o;
}

// Four segments of 4 KiB: fills after a dozen 1000-byte payloads that nobody acknowledges.
ring::RingOptions TinyRing() {
  ring::RingOptions o;
  o.segment_bytes = 4096;
  o.file_bytes = ring::kMinFileBytes;
  o.full_policy = ring::FullPolicy::kReject;
  return o;
}

// A disk whose fdatasync stalls while the gate is closed (an SD card's sync tail, seconds
// long): appends stay in flight for as long as the test wants, independent of timing.
// Everything else goes straight to the wrapped file system.
class StallingFileSystem final : public port::FileSystem {
 public:
  explicit StallingFileSystem(port::FileSystem* base) : base_(base) {}

  void CloseGate() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
  }
  void OpenGate() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = false;
    cv_.notify_all();
  }

  Result<std::unique_ptr<port::File>> Open(const std::string& path, port::Access a) override {
    return Wrap(base_->Open(path, a));
  }
  Result<std::unique_ptr<port::File>> Create(const std::string& path) override {
    return Wrap(base_->Create(path));
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return base_->Rename(from, to);
  }
  Status Remove(const std::string& path) override { return base_->Remove(path); }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  Result<std::unique_ptr<port::FileLock>> Lock(const std::string& path) override {
    return base_->Lock(path);
  }

 private:
  class GatedFile final : public port::File {
   public:
    GatedFile(StallingFileSystem* fs, std::unique_ptr<port::File> f)
        : fs_(fs), f_(std::move(f)) {}
    Status WriteAt(uint64_t o, const void* d, size_t n) override { return f_->WriteAt(o, d, n); }
    Status ReadAt(uint64_t o, void* d, size_t n) const override { return f_->ReadAt(o, d, n); }
    Status Sync() override {
      std::unique_lock<std::mutex> l(fs_->mu_);
      fs_->cv_.wait(l, [&] { return !fs_->closed_; });
      l.unlock();
      return f_->Sync();
    }
    Status DropCache() override { return f_->DropCache(); }
    Result<uint64_t> Size() const override { return f_->Size(); }
    const std::string& path() const override { return f_->path(); }

   private:
    StallingFileSystem* fs_;
    std::unique_ptr<port::File> f_;
  };

  Result<std::unique_ptr<port::File>> Wrap(Result<std::unique_ptr<port::File>> f) {
    if (!f.ok()) return f.status();
    return std::unique_ptr<port::File>(new GatedFile(this, std::move(f).value()));
  }

  port::FileSystem* base_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;  // guarded by mu_
};

bool WaitUntil(const std::function<bool()>& done, int max_ms = kClientTimeoutMs) {
  for (int waited = 0; waited < max_ms; waited += 5) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

class IntakeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/edge-intake-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_path_ = dir_ + "/intake.sock";
  }
  void TearDown() override {
    if (stalling_fs_ != nullptr) stalling_fs_->OpenGate();  // the writer must be able to finish
    server_.reset();
    ring_.reset();
    ::unlink(socket_path_.c_str());
    ::rmdir(dir_.c_str());
  }

  void OpenRing(const ring::RingOptions& o = SmallRing(), port::FileSystem* fs = nullptr) {
    auto r = ring::Ring::Open(fs != nullptr ? fs : &fs_, kRingPath, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ring_ = std::move(r).value();
  }

  IntakeOptions Options() {
    IntakeOptions o;
    o.socket_path = socket_path_;
    o.socket_mode = 0600;
    o.max_frame_bytes = 256 << 10;
    o.confirm_timeout_ms = 60000;
    return o;
  }

  void Start(const IntakeOptions& o) {
    if (ring_ == nullptr) OpenRing();
    auto s = IntakeServer::Start(ring_.get(), {"telemetry", "jobs"}, o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
  }
  void Start() { Start(Options()); }

  edge_agent_conn* Connect() {
    edge_agent_conn* c = nullptr;
    int rc = edge_agent_connect(socket_path_.c_str(), kClientTimeoutMs, &c);
    EXPECT_EQ(rc, EDGE_AGENT_OK) << edge_agent_strerror(rc);
    return c;
  }

  port::UniqueFd RawConnect() {
    auto fd = port::ConnectUnix(socket_path_, kClientTimeoutMs);
    EXPECT_TRUE(fd.ok()) << fd.status().ToString();
    return fd.ok() ? std::move(fd).value() : port::UniqueFd();
  }

  // Reads answers from a raw socket until end of stream (or the bound). Returns them.
  std::vector<Answer> ReadAnswersUntilClosed(int fd, bool* closed) {
    std::vector<Answer> out;
    std::string buf;
    *closed = false;
    char chunk[4096];
    for (;;) {
      size_t n = 0;
      Status s = port::ReadSomeWithin(fd, chunk, sizeof(chunk), &n, kClientTimeoutMs);
      if (!s.ok()) {
        *closed = s.code() == Code::kUnavailable;  // reset counts as closed
        return out;
      }
      if (n == 0) {
        *closed = true;
        return out;
      }
      buf.append(chunk, n);
      for (;;) {
        Answer a;
        long used = DecodeAnswer(buf, &a);
        if (used <= 0) break;
        out.push_back(a);
        buf.erase(0, static_cast<size_t>(used));
      }
    }
  }

  // Every record in the ring, by seq.
  std::map<uint64_t, envelope::Envelope> RingContents() {
    std::map<uint64_t, envelope::Envelope> out;
    ring::Position pos = ring_->store().head();
    while (pos.seq < ring_->store().next_seq()) {
      ring::Record rec;
      Status s = ring_->store().Read(pos, &rec);
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (!s.ok()) break;
      envelope::Envelope e;
      Status d = envelope::Decode(rec.payload, &e);
      EXPECT_TRUE(d.ok()) << d.ToString();
      out[rec.seq] = e;
      pos = rec.next;
    }
    return out;
  }

  port::SimFileSystem fs_{7};
  std::unique_ptr<StallingFileSystem> stalling_fs_;  // outlives ring_ (declared before it)
  std::string dir_;
  std::string socket_path_;
  std::unique_ptr<ring::Ring> ring_;
  std::unique_ptr<IntakeServer> server_;
};

// Writes `frames` small SEND frames to fd without ever reading an answer. Returns what
// WriteAll says: kTimeout once the agent stopped reading from this client (back-pressure);
// the wait that shows it is a bound, the test never depends on how long it took.
Status FloodWithoutReading(int fd, int frames, int stall_ms) {
  SendRequest req;
  req.route = "jobs";
  req.payload = "h";
  std::string frame;
  EXPECT_TRUE(EncodeSend(req, &frame));
  std::string all;
  all.reserve(frame.size() * static_cast<size_t>(frames));
  for (int i = 0; i < frames; i++) all += frame;
  return port::WriteAll(fd, all.data(), all.size(), stall_ms);
}

ring::RingOptions BigRing() {
  ring::RingOptions o;
  o.segment_bytes = 1 << 20;
  o.file_bytes = ring::kDataOffset + 16 * (1 << 20);
  return o;
}

std::string PayloadFor(int conn, int i) {
  // Binary, distinct per request, varying sizes (empty included).
  std::string p;
  for (int k = 0; k < (i * 13) % 300; k++)
    p.push_back(static_cast<char>((conn * 31 + i + k) & 0xff));
  return p;
}

TEST_F(IntakeServerTest,
       PipelinedSendsFromSeveralConnectionsGetInOrderAnswersAndByteIdenticalRecords) {
  Start();
  constexpr int kConns = 4;
  constexpr int kPerConn = 60;
  std::vector<std::vector<uint64_t>> seqs(kConns);
  std::vector<std::thread> threads;
  for (int c = 0; c < kConns; c++) {
    threads.emplace_back([&, c] {
      edge_agent_conn* conn = Connect();
      if (conn == nullptr) return;
      std::vector<uint32_t> ids;
      for (int i = 0; i < kPerConn; i++) {
        std::string value = "c" + std::to_string(c) + "-" + std::to_string(i);
        edge_agent_header h{"origin", value.data(), value.size()};
        std::string p = PayloadFor(c, i);
        uint32_t id = 0;
        ASSERT_EQ(edge_agent_send_async(conn, i % 2 ? "jobs" : "telemetry", &h, 1, p.data(),
                                        p.size(), 0, &id),
                  EDGE_AGENT_OK);
        ids.push_back(id);
      }
      EXPECT_EQ(edge_agent_outstanding(conn), static_cast<size_t>(kPerConn));
      for (int i = 0; i < kPerConn; i++) {
        edge_agent_result r;
        ASSERT_EQ(edge_agent_read_result(conn, &r), EDGE_AGENT_OK) << r.message;
        EXPECT_EQ(r.request_id, ids[i]);
        EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_DURABLE);
        if (!seqs[c].empty()) {
          EXPECT_GT(r.seq, seqs[c].back());
        }
        seqs[c].push_back(r.seq);
      }
      edge_agent_close(conn);
    });
  }
  for (auto& t : threads) t.join();

  std::map<uint64_t, envelope::Envelope> records = RingContents();
  ASSERT_EQ(records.size(), static_cast<size_t>(kConns * kPerConn));
  for (int c = 0; c < kConns; c++) {
    ASSERT_EQ(seqs[c].size(), static_cast<size_t>(kPerConn));
    for (int i = 0; i < kPerConn; i++) {
      const envelope::Envelope& e = records[seqs[c][i]];
      EXPECT_EQ(e.payload, PayloadFor(c, i));
      EXPECT_EQ(e.route, i % 2 ? "jobs" : "telemetry");
      ASSERT_EQ(e.headers.size(), 1u);
      EXPECT_EQ(e.headers[0].first, "origin");
      EXPECT_EQ(e.headers[0].second, "c" + std::to_string(c) + "-" + std::to_string(i));
      EXPECT_GT(e.accepted_at_ms, 0u);
    }
  }
  IntakeStats s = server_->stats();
  EXPECT_EQ(s.accepted_payloads, static_cast<uint64_t>(kConns * kPerConn));
  EXPECT_EQ(s.answers[static_cast<size_t>(AnswerCode::kOk)],
            static_cast<uint64_t>(kConns * kPerConn));
  EXPECT_EQ(s.connections_accepted, static_cast<uint64_t>(kConns));
}

TEST_F(IntakeServerTest, BlockingSendAnswersDurableWithTheSeq) {
  Start();
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  edge_agent_result r;
  const uint64_t expected = ring_->store().next_seq();
  ASSERT_EQ(edge_agent_send(c, "telemetry", nullptr, 0, "x", 1, 0, &r), EDGE_AGENT_OK) << r.message;
  EXPECT_EQ(r.seq, expected);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_DURABLE);
  EXPECT_STREQ(r.message, "");
  edge_agent_close(c);
}

TEST_F(IntakeServerTest, UnknownRouteIsAnsweredAndTheConnectionStaysUsable) {
  Start();
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  edge_agent_result r;
  EXPECT_EQ(edge_agent_send(c, "nope\x01", nullptr, 0, "x", 1, 0, &r), EDGE_AGENT_UNKNOWN_ROUTE);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_NONE);
  EXPECT_NE(std::string(r.message).find("'nope\\x01'"), std::string::npos) << r.message;
  EXPECT_EQ(edge_agent_send(c, "jobs", nullptr, 0, "x", 1, 0, &r), EDGE_AGENT_OK);
  edge_agent_close(c);
  EXPECT_EQ(RingContents().size(), 1u);
}

TEST_F(IntakeServerTest, RecordTooLargeForTheRingIsAnsweredTooLargeAndTheConnectionStaysUsable) {
  OpenRing(TinyRing());  // 4 KiB segments: records up to 4068 bytes
  Start();
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  std::string big(5000, 'b');
  edge_agent_result r;
  EXPECT_EQ(edge_agent_send(c, "jobs", nullptr, 0, big.data(), big.size(), 0, &r),
            EDGE_AGENT_TOO_LARGE);
  EXPECT_NE(std::string(r.message).find("exceeds the ring"), std::string::npos) << r.message;
  EXPECT_EQ(edge_agent_send(c, "jobs", nullptr, 0, "small", 5, 0, &r), EDGE_AGENT_OK);
  edge_agent_close(c);
}

TEST_F(IntakeServerTest, FrameOverMaxFrameBytesIsAnsweredTooLargeFromItsHeadThenClosed) {
  IntakeOptions o = Options();
  o.max_frame_bytes = 4096;
  Start(o);
  // A raw client announces a 1 GiB frame and sends only its head: the answer comes anyway.
  port::UniqueFd fd = RawConnect();
  std::string head("\x40\x00\x00\x00\x01\x00\x00\x00\x00\x2a", 10);
  ASSERT_TRUE(port::WriteAll(fd.get(), head.data(), head.size(), kClientTimeoutMs).ok());
  bool closed = false;
  std::vector<Answer> answers = ReadAnswersUntilClosed(fd.get(), &closed);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].code, AnswerCode::kTooLarge);
  EXPECT_EQ(answers[0].request_id, 42u);
  EXPECT_TRUE(closed);

  // The C client sending a payload larger than the limit gets the same answer, even though
  // the agent closes before taking the whole frame.
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  std::string big(1 << 20, 'z');
  edge_agent_result r;
  EXPECT_EQ(edge_agent_send(c, "jobs", nullptr, 0, big.data(), big.size(), 0, &r),
            EDGE_AGENT_TOO_LARGE)
      << r.message;
  edge_agent_close(c);
  EXPECT_GE(server_->stats().connections_closed_bad_frame, 2u);
}

TEST_F(IntakeServerTest, GarbageIsAnsweredBadFrameAfterEarlierAnswersThenClosed) {
  Start();
  port::UniqueFd fd = RawConnect();
  SendRequest good;
  good.request_id = 5;
  good.route = "jobs";
  good.payload = "ok";
  std::string bytes;
  ASSERT_TRUE(EncodeSend(good, &bytes));
  bytes += "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(port::WriteAll(fd.get(), bytes.data(), bytes.size(), kClientTimeoutMs).ok());
  bool closed = false;
  std::vector<Answer> answers = ReadAnswersUntilClosed(fd.get(), &closed);
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].request_id, 5u);
  EXPECT_EQ(answers[0].code, AnswerCode::kOk);
  EXPECT_EQ(answers[1].code, AnswerCode::kBadFrame);
  EXPECT_NE(answers[1].text.find("unknown frame type"), std::string::npos) << answers[1].text;
  EXPECT_TRUE(closed);
}

TEST_F(IntakeServerTest, AClientThatClosesItsSendingSideStillGetsEveryAnswer) {
  Start();
  port::UniqueFd fd = RawConnect();
  std::string bytes;
  for (uint32_t id = 1; id <= 3; id++) {
    SendRequest req;
    req.request_id = id;
    req.route = "telemetry";
    req.payload = "p" + std::to_string(id);
    std::string frame;
    ASSERT_TRUE(EncodeSend(req, &frame));
    bytes += frame;
  }
  bytes += std::string("\x00\x00", 2);  // and the start of a frame that never completes
  ASSERT_TRUE(port::WriteAll(fd.get(), bytes.data(), bytes.size(), kClientTimeoutMs).ok());
  ASSERT_EQ(::shutdown(fd.get(), SHUT_WR), 0);
  bool closed = false;
  std::vector<Answer> answers = ReadAnswersUntilClosed(fd.get(), &closed);
  ASSERT_EQ(answers.size(), 3u);
  for (uint32_t i = 0; i < 3; i++) {
    EXPECT_EQ(answers[i].request_id, i + 1);
    EXPECT_EQ(answers[i].code, AnswerCode::kOk);
  }
  EXPECT_TRUE(closed);
}

TEST_F(IntakeServerTest, ReservedHeaderIsAnsweredBadFrameAndTheConnectionStaysOpen) {
  Start();
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  edge_agent_header h{"x-edge-seq", "1", 1};
  edge_agent_result r;
  EXPECT_EQ(edge_agent_send(c, "jobs", &h, 1, "p", 1, 0, &r), EDGE_AGENT_BAD_FRAME);
  EXPECT_NE(std::string(r.message).find("reserved"), std::string::npos) << r.message;
  EXPECT_EQ(edge_agent_send(c, "jobs", nullptr, 0, "p", 1, 0, &r), EDGE_AGENT_OK);
  edge_agent_close(c);
}

TEST_F(IntakeServerTest, FullRingUnderRejectPolicyIsAnsweredRingFull) {
  OpenRing(TinyRing());
  Start();
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  std::string p(1000, 'f');
  edge_agent_result r;
  int rc = EDGE_AGENT_OK;
  int stored = 0;
  for (int i = 0; i < 100 && rc == EDGE_AGENT_OK; i++) {
    rc = edge_agent_send(c, "jobs", nullptr, 0, p.data(), p.size(), 0, &r);
    if (rc == EDGE_AGENT_OK) stored++;
  }
  EXPECT_EQ(rc, EDGE_AGENT_RING_FULL) << r.message;
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_NONE);
  EXPECT_GT(stored, 0);
  EXPECT_EQ(RingContents().size(), static_cast<size_t>(stored));
  edge_agent_close(c);
}

TEST_F(IntakeServerTest, FailedRingSyncIsAnsweredIoErrorWithTheRingsReason) {
  Start();
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  edge_agent_result r;
  ASSERT_EQ(edge_agent_send(c, "jobs", nullptr, 0, "a", 1, 0, &r), EDGE_AGENT_OK);
  fs_.FailSyncs(0, 1);
  EXPECT_EQ(edge_agent_send(c, "jobs", nullptr, 0, "b", 1, 0, &r), EDGE_AGENT_IO_ERROR);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_NONE);
  EXPECT_NE(std::string(r.message).find(kRingPath), std::string::npos) << r.message;
  edge_agent_close(c);
}

TEST_F(IntakeServerTest, WaitConfirmedIsAnsweredConfirmedWhenThePublisherSettlesIt) {
  Start();
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  const uint64_t seq = ring_->store().next_seq();
  ASSERT_EQ(
      edge_agent_send_async(c, "jobs", nullptr, 0, "p", 1, EDGE_AGENT_WAIT_CONFIRMED, nullptr),
      EDGE_AGENT_OK);
  ASSERT_GT(ring_->WaitForDurable(seq, kClientTimeoutMs), seq);
  // Possibly before the intake has even seen the append's outcome: it must not matter.
  server_->OnSettled(seq, true, "");
  edge_agent_result r;
  ASSERT_EQ(edge_agent_read_result(c, &r), EDGE_AGENT_OK) << r.message;
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_CONFIRMED);
  EXPECT_EQ(r.seq, seq);
  edge_agent_close(c);
}

TEST_F(IntakeServerTest, WaitConfirmedIsAnsweredNotDeliveredWhenTheBrokerRejectsIt) {
  Start();
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  const uint64_t seq = ring_->store().next_seq();
  ASSERT_EQ(
      edge_agent_send_async(c, "jobs", nullptr, 0, "p", 1, EDGE_AGENT_WAIT_CONFIRMED, nullptr),
      EDGE_AGENT_OK);
  ASSERT_GT(ring_->WaitForDurable(seq, kClientTimeoutMs), seq);
  server_->OnSettled(seq, false, "basic.return 312 NO_ROUTE");
  edge_agent_result r;
  EXPECT_EQ(edge_agent_read_result(c, &r), EDGE_AGENT_NOT_DELIVERED);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_DURABLE);
  EXPECT_EQ(r.seq, seq);
  EXPECT_NE(std::string(r.message).find("NO_ROUTE"), std::string::npos) << r.message;
  edge_agent_close(c);
}

TEST_F(IntakeServerTest, WaitConfirmedIsAnsweredAfterTheDurableAnswerOfAnEarlierRequest) {
  Start();
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  const uint64_t first = ring_->store().next_seq();
  ASSERT_EQ(
      edge_agent_send_async(c, "jobs", nullptr, 0, "w", 1, EDGE_AGENT_WAIT_CONFIRMED, nullptr),
      EDGE_AGENT_OK);
  ASSERT_EQ(edge_agent_send_async(c, "jobs", nullptr, 0, "d", 1, 0, nullptr), EDGE_AGENT_OK);
  ASSERT_GT(ring_->WaitForDurable(first + 1, kClientTimeoutMs), first + 1);
  // The second (durable) answer is ready first but must wait behind the first.
  server_->OnSettled(first, true, "");
  edge_agent_result r;
  ASSERT_EQ(edge_agent_read_result(c, &r), EDGE_AGENT_OK);
  EXPECT_EQ(r.seq, first);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_CONFIRMED);
  ASSERT_EQ(edge_agent_read_result(c, &r), EDGE_AGENT_OK);
  EXPECT_EQ(r.seq, first + 1);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_DURABLE);
  edge_agent_close(c);
}

TEST_F(IntakeServerTest, WaitConfirmedWithoutASettlementIsAnsweredTimeoutStillDurable) {
  IntakeOptions o = Options();
  o.confirm_timeout_ms = 50;
  Start(o);
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  edge_agent_result r;
  EXPECT_EQ(edge_agent_send(c, "jobs", nullptr, 0, "p", 1, EDGE_AGENT_WAIT_CONFIRMED, &r),
            EDGE_AGENT_TIMEOUT);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_DURABLE);
  EXPECT_GE(r.seq, 1u);
  EXPECT_NE(std::string(r.message).find("confirm_timeout_ms"), std::string::npos) << r.message;
  EXPECT_EQ(RingContents().size(), 1u);
  edge_agent_close(c);
}

TEST_F(IntakeServerTest, StopAnswersWaitingProducersShuttingDownWithTheirDurableSeq) {
  Start();
  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  const uint64_t seq = ring_->store().next_seq();
  ASSERT_EQ(
      edge_agent_send_async(c, "jobs", nullptr, 0, "p", 1, EDGE_AGENT_WAIT_CONFIRMED, nullptr),
      EDGE_AGENT_OK);
  ASSERT_GT(ring_->WaitForDurable(seq, kClientTimeoutMs), seq);
  std::thread stopper([&] { server_->Stop(); });
  edge_agent_result r;
  EXPECT_EQ(edge_agent_read_result(c, &r), EDGE_AGENT_SHUTTING_DOWN);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_DURABLE);
  EXPECT_EQ(r.seq, seq);
  stopper.join();
  struct stat st {};
  EXPECT_NE(::lstat(socket_path_.c_str(), &st), 0) << "the socket file must be removed";
  edge_agent_close(c);
}

TEST_F(IntakeServerTest, RequestsArrivingDuringStopAreAnsweredShuttingDown) {
  OpenRing(BigRing());
  IntakeOptions o = Options();
  o.max_pending_per_connection = 4;
  o.stop_flush_ms = 60000;  // the stop waits for the stuck reader below until it leaves
  Start(o);
  edge_agent_conn* late = Connect();
  ASSERT_NE(late, nullptr);
  edge_agent_result r;
  ASSERT_EQ(edge_agent_send(late, "jobs", nullptr, 0, "before", 6, 0, &r), EDGE_AGENT_OK);

  // A client that sends without ever reading: once its socket holds all the answers it
  // will take, the agent stops reading it, its answers stay unsent, and the stop has to wait
  // for it (up to stop_flush_ms), serving the other connection meanwhile.
  port::UniqueFd stuck = RawConnect();
  Status flood = FloodWithoutReading(stuck.get(), 100000, 2000);
  ASSERT_EQ(flood.code(), Code::kTimeout) << flood.ToString();
  ASSERT_TRUE(WaitUntil([&] { return server_->stats().answers[0] >= 2; }));

  std::thread stopper([&] { server_->Stop(); });
  struct stat st {};
  ASSERT_TRUE(WaitUntil([&] { return ::lstat(socket_path_.c_str(), &st) != 0; }));
  EXPECT_EQ(edge_agent_send(late, "jobs", nullptr, 0, "after", 5, 0, &r), EDGE_AGENT_SHUTTING_DOWN);
  EXPECT_EQ(r.receipt, EDGE_AGENT_RECEIPT_NONE);
  stuck.Reset();  // the stuck client leaves; the stop can finish
  stopper.join();
  edge_agent_close(late);
}

TEST_F(IntakeServerTest, SlowlorisAndGarbageClientsDoNotStopAWellBehavedOne) {
  IntakeOptions o = Options();
  o.idle_timeout_s = 3600;  // the slow client is not rescued by the idle timeout here
  Start(o);
  port::UniqueFd slow = RawConnect();
  ASSERT_TRUE(port::WriteAll(slow.get(), "\x00\x00\x00", 3, kClientTimeoutMs).ok());
  port::UniqueFd garbage = RawConnect();
  ASSERT_TRUE(port::WriteAll(garbage.get(), "\xff\xff\xff\xff\xff\xff", 6, kClientTimeoutMs).ok());

  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 50; i++) {
    edge_agent_result r;
    ASSERT_EQ(edge_agent_send(c, "telemetry", nullptr, 0, "ok", 2, 0, &r), EDGE_AGENT_OK)
        << r.message;
  }
  edge_agent_close(c);
  EXPECT_EQ(RingContents().size(), 50u);
}

TEST_F(IntakeServerTest, AClientThatDoesNotReadIsNoLongerReadFromAndOthersAreServed) {
  OpenRing(BigRing());
  IntakeOptions o = Options();
  o.max_pending_per_connection = 8;
  Start(o);
  port::UniqueFd hog = RawConnect();
  constexpr int kFrames = 100000;
  Status flood = FloodWithoutReading(hog.get(), kFrames, 2000);
  // The agent stopped reading: the hog could not get all its frames out.
  EXPECT_EQ(flood.code(), Code::kTimeout) << flood.ToString();
  const uint64_t hog_requests = server_->stats().requests;
  EXPECT_LT(hog_requests, static_cast<uint64_t>(kFrames));

  edge_agent_conn* c = Connect();
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 20; i++) {
    edge_agent_result r;
    ASSERT_EQ(edge_agent_send(c, "telemetry", nullptr, 0, "fine", 4, 0, &r), EDGE_AGENT_OK);
  }
  edge_agent_close(c);
  EXPECT_LT(server_->stats().requests, static_cast<uint64_t>(kFrames));
}

TEST_F(IntakeServerTest, BytesInFlightPerConnectionAreBoundedWhileTheDiskStalls) {
  // Regression: back-pressure counted requests only, so while the disk stalled one client
  // could park max_pending_per_connection (256) frames of up to max_frame_bytes each in the
  // ring's append queue: 256 MiB per connection with the defaults, on a gateway with 1 GiB.
  stalling_fs_ = std::make_unique<StallingFileSystem>(&fs_);
  OpenRing(BigRing(), stalling_fs_.get());
  IntakeOptions o = Options();  // max_frame_bytes 256 KiB
  o.max_in_flight_bytes_per_connection = 1 << 20;
  Start(o);
  stalling_fs_->CloseGate();

  constexpr int kFrames = 40;
  SendRequest req;
  req.route = "jobs";
  req.payload.assign(200 << 10, 'p');
  std::string frame;
  ASSERT_TRUE(EncodeSend(req, &frame));
  std::string all;
  for (int i = 0; i < kFrames; i++) all += frame;
  port::UniqueFd hog = RawConnect();
  std::thread writer([&] {
    Status s = port::WriteAll(hog.get(), all.data(), all.size(), 4 * kClientTimeoutMs);
    EXPECT_TRUE(s.ok()) << s.ToString();
    ::shutdown(hog.get(), SHUT_WR);
  });

  // 1 MiB of records in flight is reached at the 6th frame of 200 KiB (and envelope); then
  // the agent stops reading this client until the disk answers.
  const uint64_t bound = (o.max_in_flight_bytes_per_connection / req.payload.size()) + 1;
  EXPECT_TRUE(WaitUntil([&] { return server_->stats().requests >= bound; }));
  // Give an unbounded intake the chance to show itself; the assertion does not depend on it.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_LE(server_->stats().requests, bound);

  stalling_fs_->OpenGate();
  bool closed = false;
  std::vector<Answer> answers = ReadAnswersUntilClosed(hog.get(), &closed);
  writer.join();
  EXPECT_TRUE(closed);
  ASSERT_EQ(answers.size(), static_cast<size_t>(kFrames));
  for (const Answer& a : answers) {
    EXPECT_EQ(a.code, AnswerCode::kOk) << a.text;
    EXPECT_EQ(a.receipt, Receipt::kDurable);
  }
  EXPECT_EQ(RingContents().size(), static_cast<size_t>(kFrames));
}

TEST_F(IntakeServerTest, IdleConnectionsAreClosed) {
  IntakeOptions o = Options();
  o.idle_timeout_s = 1;
  Start(o);
  port::UniqueFd idle = RawConnect();
  // Half a frame head: a stalled request does not keep a connection alive either.
  ASSERT_TRUE(port::WriteAll(idle.get(), "\x00\x00", 2, kClientTimeoutMs).ok());
  bool closed = false;
  std::vector<Answer> answers = ReadAnswersUntilClosed(idle.get(), &closed);
  EXPECT_TRUE(answers.empty());
  EXPECT_TRUE(closed);
  EXPECT_EQ(server_->stats().connections_closed_idle, 1u);
}

TEST_F(IntakeServerTest, ConnectionsBeyondMaxConnectionsAreClosedAtOnce) {
  IntakeOptions o = Options();
  o.max_connections = 2;
  Start(o);
  edge_agent_conn* a = Connect();
  edge_agent_conn* b = Connect();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  edge_agent_result r;
  ASSERT_EQ(edge_agent_send(a, "jobs", nullptr, 0, "a", 1, 0, &r), EDGE_AGENT_OK);
  ASSERT_EQ(edge_agent_send(b, "jobs", nullptr, 0, "b", 1, 0, &r), EDGE_AGENT_OK);

  edge_agent_conn* third = Connect();  // the kernel accepts it; the agent then closes it
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(edge_agent_send(third, "jobs", nullptr, 0, "c", 1, 0, &r), EDGE_AGENT_E_CLOSED)
      << r.message;
  edge_agent_close(third);
  EXPECT_GE(server_->stats().connections_rejected, 1u);

  // Once one leaves, a new connection is served.
  edge_agent_close(a);
  bool served = WaitUntil([&] {
    edge_agent_conn* d = nullptr;
    if (edge_agent_connect(socket_path_.c_str(), kClientTimeoutMs, &d) != EDGE_AGENT_OK) {
      return false;
    }
    edge_agent_result dr;
    int rc = edge_agent_send(d, "jobs", nullptr, 0, "d", 1, 0, &dr);
    edge_agent_close(d);
    return rc == EDGE_AGENT_OK;
  });
  EXPECT_TRUE(served);
  edge_agent_close(b);
}

TEST_F(IntakeServerTest, StartRefusesBadOptions) {
  OpenRing();
  IntakeOptions o = Options();
  o.max_connections = 0;
  auto s = IntakeServer::Start(ring_.get(), {"jobs"}, o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument);
  EXPECT_NE(s.status().message().find("max_connections"), std::string::npos);
}

TEST_F(IntakeServerTest, TheCClientNamesCodesLikeTheProtocol) {
  for (int i = 0; i < kAnswerCodeCount; i++) {
    EXPECT_STREQ(edge_agent_code_name(i), AnswerCodeName(static_cast<AnswerCode>(i)));
  }
  EXPECT_STREQ(edge_agent_receipt_name(2), ReceiptName(Receipt::kConfirmed));
  EXPECT_NE(std::string(edge_agent_strerror(EDGE_AGENT_E_CLOSED)).find("closed"),
            std::string::npos);
}

// --- ConfirmTracker ------------------------------------------------------------------------

TEST(ConfirmTrackerTest, ReportsDeliveredNotDeliveredAndPending) {
  ConfirmTracker t(10);
  std::string detail;
  EXPECT_EQ(t.Lookup(10, &detail), ConfirmTracker::Outcome::kPending);
  EXPECT_FALSE(t.Settle(10, true, ""));  // nobody waits: no wake-up
  t.SetLowestWaiter(11);
  EXPECT_TRUE(t.Settle(11, false, "nacked"));
  EXPECT_EQ(t.Lookup(10, &detail), ConfirmTracker::Outcome::kDelivered);
  EXPECT_EQ(t.Lookup(11, &detail), ConfirmTracker::Outcome::kNotDelivered);
  EXPECT_EQ(detail, "nacked");
  EXPECT_EQ(t.Lookup(12, &detail), ConfirmTracker::Outcome::kPending);
}

TEST(ConfirmTrackerTest, ASkippedSeqCountsAsNotDelivered) {
  ConfirmTracker t(1);
  EXPECT_FALSE(t.Settle(1, true, ""));
  EXPECT_FALSE(t.Settle(5, true, ""));  // 2..4 dropped from the ring before a confirm
  std::string detail;
  EXPECT_EQ(t.Lookup(1, &detail), ConfirmTracker::Outcome::kDelivered);
  EXPECT_EQ(t.Lookup(3, &detail), ConfirmTracker::Outcome::kNotDelivered);
  EXPECT_NE(detail.find("drop_oldest"), std::string::npos);
  EXPECT_EQ(t.Lookup(5, &detail), ConfirmTracker::Outcome::kDelivered);
  // A repeat below the watermark changes nothing.
  EXPECT_FALSE(t.Settle(3, true, ""));
  EXPECT_EQ(t.Lookup(3, &detail), ConfirmTracker::Outcome::kNotDelivered);
}

// --- UnixListener ---------------------------------------------------------------------------

class UnixListenerTest : public IntakeServerTest {};

TEST_F(UnixListenerTest, RefusesToReplaceAPathThatIsNotASocket) {
  FILE* f = std::fopen(socket_path_.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  auto l = port::UnixListener::Listen(socket_path_, 0600);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), Code::kAlreadyExists);
  EXPECT_NE(l.status().message().find(socket_path_), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::lstat(socket_path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "the file must be left alone";
}

TEST_F(UnixListenerTest, RefusesASocketSomeoneListensOn) {
  auto first = port::UnixListener::Listen(socket_path_, 0600);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = port::UnixListener::Listen(socket_path_, 0600);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kAlreadyExists);
  EXPECT_NE(second.status().message().find("another process"), std::string::npos);
}

TEST_F(UnixListenerTest, ReplacesAStaleSocketAndAppliesTheMode) {
  // A stale socket file: bound by a process that is gone (nobody listens on it).
  {
    port::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path_.c_str());
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  auto l = port::UnixListener::Listen(socket_path_, 0640);
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  struct stat st {};
  ASSERT_EQ(::lstat(socket_path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_TRUE(port::ConnectUnix(socket_path_, 1000).ok());
}

TEST_F(UnixListenerTest, RemovesItsSocketFileWhenDestroyed) {
  {
    auto l = port::UnixListener::Listen(socket_path_, 0600);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    auto accepted = l.value()->Accept();
    EXPECT_TRUE(port::IsWouldBlock(accepted.status()));
  }
  struct stat st {};
  EXPECT_NE(::lstat(socket_path_.c_str(), &st), 0);
  auto c = port::ConnectUnix(socket_path_, 100);
  EXPECT_EQ(c.status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace edge::intake
