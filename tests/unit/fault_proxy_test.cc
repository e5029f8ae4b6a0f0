// FaultProxy (tests/support/fault_proxy.h) against a tiny echo server on loopback: each mode
// does to a live connection what the transport tests rely on it doing.
#include "tests/support/fault_proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "port/unique_fd.h"

namespace edge::test {
namespace {

using Clock = std::chrono::steady_clock;
using port::UniqueFd;

// Echoes every byte back on every connection, on its own thread, until destroyed.
class EchoServer {
 public:
  EchoServer() {
    listen_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    ok_ = ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
          ::listen(listen_.get(), 16) == 0 &&
          ::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~EchoServer() {
    stop_ = true;
    thread_.join();
  }
  bool ok() const { return ok_; }
  uint16_t port() const { return port_; }

 private:
  void Run() {
    std::vector<UniqueFd> conns;
    while (!stop_) {
      std::vector<pollfd> fds{{listen_.get(), POLLIN, 0}};
      for (auto& c : conns) fds.push_back({c.get(), POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        conns.emplace_back(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        continue;
      }
      for (size_t i = 0; i < conns.size(); i++) {
        if (fds[i + 1].revents == 0) continue;
        char buf[65536];
        ssize_t n = ::recv(conns[i].get(), buf, sizeof(buf), 0);
        if (n <= 0) {
          conns[i].Reset();
          continue;
        }
        for (ssize_t off = 0; off < n;) {
          ssize_t w = ::send(conns[i].get(), buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
          if (w <= 0) break;
          off += w;
        }
      }
      conns.erase(std::remove_if(conns.begin(), conns.end(), [](auto& c) { return !c.valid(); }),
                  conns.end());
    }
  }

  UniqueFd listen_;
  uint16_t port_ = 0;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

UniqueFd Connect(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) fd.Reset();
  return fd;
}

bool SendAll(int fd, const std::string& bytes) {
  for (size_t off = 0; off < bytes.size();) {
    ssize_t w = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (w <= 0) return false;
    off += static_cast<size_t>(w);
  }
  return true;
}

// What reading `want` bytes within timeout_ms gave: the bytes, and how the read ended.
struct ReadOutcome {
  std::string bytes;
  bool timed_out = false;
  bool closed = false;  // orderly end of stream
  int error = 0;        // errno of a failed read (ECONNRESET for a reset)
};

ReadOutcome ReadFor(int fd, size_t want, int timeout_ms) {
  ReadOutcome out;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out.bytes.size() < want) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      out.timed_out = true;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[65536];
    ssize_t n = ::recv(fd, buf, std::min(sizeof(buf), want - out.bytes.size()), 0);
    if (n == 0) {
      out.closed = true;
      break;
    }
    if (n < 0) {
      out.error = errno;
      break;
    }
    out.bytes.append(buf, static_cast<size_t>(n));
  }
  return out;
}

class FaultProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(echo_.ok());
    auto p = FaultProxy::Start(echo_.port());
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    proxy_ = std::move(p).value();
  }
  EchoServer echo_;
  std::unique_ptr<FaultProxy> proxy_;
};

TEST_F(FaultProxyTest, ForwardsBytesBothWaysAndCountsThem) {
  UniqueFd c = Connect(proxy_->port());
  ASSERT_TRUE(c.valid());
  std::string data(300000, '\0');
  for (size_t i = 0; i < data.size(); i++) data[i] = static_cast<char>(i * 31 + 7);
  std::thread writer([&] { EXPECT_TRUE(SendAll(c.get(), data)); });
  ReadOutcome r = ReadFor(c.get(), data.size(), 10000);
  writer.join();
  EXPECT_EQ(r.bytes, data);
  FaultProxyStats s = proxy_->stats();
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.live, 1u);
  EXPECT_EQ(s.bytes_to_target, data.size());
  EXPECT_EQ(s.bytes_from_target, data.size());
  EXPECT_EQ(s.bytes_dropped, 0u);
}

TEST_F(FaultProxyTest, CutResetsLiveConnectionsAndRefusesNewOnesUntilPass) {
  UniqueFd c = Connect(proxy_->port());
  ASSERT_TRUE(c.valid());
  ASSERT_TRUE(SendAll(c.get(), "ping"));
  ASSERT_EQ(ReadFor(c.get(), 4, 5000).bytes, "ping");

  proxy_->Cut();
  ReadOutcome r = ReadFor(c.get(), 1, 5000);
  EXPECT_EQ(r.error, ECONNRESET) << "a cut path must reset, not close politely";
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(proxy_->stats().cut, 1u);

  // While cut, a new connection is reset right after the kernel accepted it.
  UniqueFd during = Connect(proxy_->port());
  ASSERT_TRUE(during.valid());
  ReadOutcome refused = ReadFor(during.get(), 1, 5000);
  EXPECT_FALSE(refused.timed_out);
  EXPECT_TRUE(refused.error == ECONNRESET || refused.closed);

  proxy_->Pass();
  UniqueFd after = Connect(proxy_->port());
  ASSERT_TRUE(SendAll(after.get(), "again"));
  EXPECT_EQ(ReadFor(after.get(), 5, 5000).bytes, "again");
  EXPECT_GE(proxy_->stats().refused, 1u);
}

TEST_F(FaultProxyTest, BlackholeKeepsConnectionsOpenButSilentEvenAfterPass) {
  UniqueFd c = Connect(proxy_->port());
  ASSERT_TRUE(SendAll(c.get(), "before"));
  ASSERT_EQ(ReadFor(c.get(), 6, 5000).bytes, "before");

  proxy_->Blackhole();
  ASSERT_TRUE(SendAll(c.get(), "into the void"));  // the send itself succeeds: nothing tells
  ReadOutcome r = ReadFor(c.get(), 1, 500);
  EXPECT_TRUE(r.timed_out) << "a blackhole must be silence, not a close or a reset";
  EXPECT_TRUE(r.bytes.empty());

  // A connection opened during the blackhole connects (the kernel accepts) and hears nothing.
  UniqueFd during = Connect(proxy_->port());
  ASSERT_TRUE(during.valid());
  ASSERT_TRUE(SendAll(during.get(), "hello?"));
  EXPECT_TRUE(ReadFor(during.get(), 1, 300).timed_out);

  // The path comes back: the old connection lost bytes mid-stream and stays silent; a new one
  // works.
  proxy_->Pass();
  ASSERT_TRUE(SendAll(c.get(), "still there?"));
  EXPECT_TRUE(ReadFor(c.get(), 1, 300).timed_out);
  UniqueFd fresh = Connect(proxy_->port());
  ASSERT_TRUE(SendAll(fresh.get(), "fresh"));
  EXPECT_EQ(ReadFor(fresh.get(), 5, 5000).bytes, "fresh");
  EXPECT_GE(proxy_->stats().bytes_dropped, std::string("into the voidhello?").size());

  // Closing a silenced connection is not passed on: `during` (no target) goes away, `c` keeps
  // its target half open until the target itself closes it, as after a real dead NAT entry.
  c.Reset();
  during.Reset();
  for (int i = 0; i < 100 && proxy_->stats().live != 2; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(proxy_->stats().live, 2u);
}

TEST_F(FaultProxyTest, DelayHoldsEachChunkBackByTheConfiguredTime) {
  proxy_->Delay(300);
  UniqueFd c = Connect(proxy_->port());
  const auto start = Clock::now();
  ASSERT_TRUE(SendAll(c.get(), "slow"));
  ReadOutcome r = ReadFor(c.get(), 4, 10000);
  EXPECT_EQ(r.bytes, "slow");
  // Both directions are delayed: at least 2 x 300 ms. A lower bound only: never a speed test.
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(600));
  proxy_->Pass();
  ASSERT_TRUE(SendAll(c.get(), "fast"));
  EXPECT_EQ(ReadFor(c.get(), 4, 5000).bytes, "fast");
}

TEST_F(FaultProxyTest, ThrottleLimitsTheRateOfEachDirection) {
  proxy_->Throttle(20000);  // bytes per second
  UniqueFd c = Connect(proxy_->port());
  const std::string data(10000, 'x');
  const auto start = Clock::now();
  ASSERT_TRUE(SendAll(c.get(), data));
  ReadOutcome r = ReadFor(c.get(), data.size(), 20000);
  EXPECT_EQ(r.bytes.size(), data.size());
  // 10 kB at 20 kB/s with a 2 kB burst needs about 0.4 s or more: a lower bound only.
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(300));
}

TEST_F(FaultProxyTest, DestructorClosesEveryConnection) {
  UniqueFd c = Connect(proxy_->port());
  ASSERT_TRUE(SendAll(c.get(), "x"));
  ASSERT_EQ(ReadFor(c.get(), 1, 5000).bytes, "x");
  proxy_.reset();
  ReadOutcome r = ReadFor(c.get(), 1, 5000);
  EXPECT_FALSE(r.timed_out);
  EXPECT_TRUE(r.closed || r.error != 0);
}

}  // namespace
}  // namespace edge::test
