#include "tests/support/fault_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

namespace edge::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunkBytes = 64 << 10;
// Longest poll without a reason to wake: bounds how late a missed wake-up could be noticed.
constexpr int kMaxPollMs = 100;
// How long a setter waits for the thread to apply a mode. The thread never blocks on a socket,
// so this is only reached if it is gone; the setter then returns rather than hang the test.
constexpr auto kApplyTimeout = std::chrono::seconds(10);

// Closes fd with a TCP reset instead of a FIN: SO_LINGER on with a zero timeout.
void ResetAndClose(port::UniqueFd& fd) {
  if (!fd.valid()) return;
  linger lg{};
  lg.l_onoff = 1;
  lg.l_linger = 0;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  fd.Reset();
}

void Configure(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Blocking connect on loopback: the kernel answers at once (accepted into the backlog or
// refused), even when the target process is stopped.
port::UniqueFd ConnectLoopback(uint16_t port) {
  port::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fd;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) fd.Reset();
  return fd;
}

bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

}  // namespace

const char* FaultModeName(FaultMode mode) {
  switch (mode) {
    case FaultMode::kPass:
      return "pass";
    case FaultMode::kCut:
      return "cut";
    case FaultMode::kBlackhole:
      return "blackhole";
    case FaultMode::kDelay:
      return "delay";
    case FaultMode::kThrottle:
      return "throttle";
  }
  return "?";
}

// One direction of a connection: bytes read from `from`, waiting to be written to `to`.
struct FaultProxy::Direction {
  struct Chunk {
    std::string bytes;
    size_t offset = 0;  // bytes already written
    Clock::time_point due;
  };
  std::deque<Chunk> pending;
  size_t pending_bytes = 0;
  bool eof = false;         // `from` ended its stream
  bool shut = false;        // the end was passed on: shutdown(to, SHUT_WR)
  bool want_write = false;  // `to` was full: poll it for POLLOUT
  double tokens = 0;        // kThrottle token bucket, bytes
  Clock::time_point refilled = Clock::now();
};

struct FaultProxy::Connection {
  port::UniqueFd client;
  port::UniqueFd target;  // not connected for connections accepted during a blackhole
  Direction up;           // client -> target
  Direction down;         // target -> client
  // Lived through a blackhole: bytes were lost mid-stream, so nothing is forwarded any more and
  // neither end learns about the other's close.
  bool silenced = false;
  bool dead = false;
  size_t client_poll = 0;  // indexes into this round's pollfd array
  size_t target_poll = 0;
};

namespace {

// Counters kept by the forwarding thread and copied under the lock once per round.
struct Counters {
  uint64_t accepted = 0;
  uint64_t refused = 0;
  uint64_t cut = 0;
  uint64_t to_target = 0;
  uint64_t from_target = 0;
  uint64_t dropped = 0;
};

}  // namespace

FaultProxy::FaultProxy(uint16_t target_port, const FaultProxyOptions& options)
    : target_port_(target_port), options_(options) {}

Result<std::unique_ptr<FaultProxy>> FaultProxy::Start(uint16_t target_port,
                                                      const FaultProxyOptions& options) {
  std::unique_ptr<FaultProxy> proxy(new FaultProxy(target_port, options));
  proxy->listen_fd_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // loopback only, port chosen by the kernel
  socklen_t len = sizeof(addr);
  const int fd = proxy->listen_fd_.get();
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd, 64) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Status::IoError(std::string("fault proxy: listen on 127.0.0.1: ") +
                           std::strerror(errno));
  }
  proxy->port_ = ntohs(addr.sin_port);
  proxy->wake_fd_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!proxy->wake_fd_.valid()) {
    return Status::IoError(std::string("fault proxy: eventfd: ") + std::strerror(errno));
  }
  proxy->thread_ = std::thread(&FaultProxy::Run, proxy.get());
  return proxy;
}

FaultProxy::~FaultProxy() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void FaultProxy::SetMode(FaultMode mode, uint64_t param) {
  std::unique_lock<std::mutex> l(mu_);
  mode_ = mode;
  param_ = param;
  const uint64_t gen = ++generation_;
  uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
  applied_cv_.wait_for(l, kApplyTimeout, [&] { return applied_ >= gen || stop_; });
}

FaultMode FaultProxy::mode() const {
  std::lock_guard<std::mutex> l(mu_);
  return mode_;
}

FaultProxyStats FaultProxy::stats() const {
  // The forwarding thread publishes its counters once per loop turn, after its writes: bytes it
  // has just written may be at the client already and not yet counted (seen under qemu-arm,
  // where the client read all 300000 bytes while bytes_from_target still said 0). Every write
  // precedes the next publish, so a publish that starts after this call counts every byte
  // forwarded before it: wake the thread and wait for one.
  std::unique_lock<std::mutex> l(mu_);
  const uint64_t turn = published_turns_;
  uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
  published_cv_.wait_for(l, kApplyTimeout, [&] { return published_turns_ > turn || stop_; });
  return stats_;
}

void FaultProxy::Run() {
  // Forwarding-thread state: nothing below is shared.
  std::vector<std::unique_ptr<Connection>> conns;
  Counters counters;
  uint64_t applied = 0;
  std::vector<pollfd> fds;

  // Reads what is readable on `from` into d, up to the pending bound.
  // False when the connection must be reset (a read error).
  auto read_into = [&](int from, Direction& d, FaultMode mode, uint64_t param) -> bool {
    while (!d.eof && d.pending_bytes < options_.max_pending_bytes) {
      std::string buf(std::min(kReadChunkBytes, options_.max_pending_bytes - d.pending_bytes),
                      '\0');
      ssize_t n = ::recv(from, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n == 0) {
        d.eof = true;
        return true;
      }
      if (n < 0) return WouldBlock(errno);
      buf.resize(static_cast<size_t>(n));
      Direction::Chunk c;
      c.bytes = std::move(buf);
      c.due = Clock::now() + std::chrono::milliseconds(mode == FaultMode::kDelay ? param : 0);
      d.pending_bytes += c.bytes.size();
      d.pending.push_back(std::move(c));
    }
    return true;
  };

  // Writes what d may release now to `to`. Sets *wake_at when something waits for time (delay
  // or tokens). False when the connection must be reset (a write error).
  auto flush = [&](int to, Direction& d, FaultMode mode, uint64_t param, uint64_t* counter,
                   Clock::time_point* wake_at) -> bool {
    d.want_write = false;
    const auto now = Clock::now();
    if (mode == FaultMode::kThrottle && param > 0) {
      const double rate = static_cast<double>(param);
      const double burst = std::max(rate / 10, 1.0);
      d.tokens = std::min(
          burst, d.tokens + rate * std::chrono::duration<double>(now - d.refilled).count());
    }
    d.refilled = now;
    while (!d.pending.empty()) {
      Direction::Chunk& c = d.pending.front();
      if (mode == FaultMode::kDelay && c.due > now) {
        *wake_at = std::min(*wake_at, c.due);
        break;
      }
      size_t allowed = c.bytes.size() - c.offset;
      if (mode == FaultMode::kThrottle && param > 0) {
        allowed = std::min(allowed, static_cast<size_t>(d.tokens));
        if (allowed == 0) {
          *wake_at = std::min(*wake_at, now + std::chrono::milliseconds(2));
          break;
        }
      }
      ssize_t w = ::send(to, c.bytes.data() + c.offset, allowed, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0) {
        if (!WouldBlock(errno)) return false;
        d.want_write = true;
        break;
      }
      c.offset += static_cast<size_t>(w);
      d.pending_bytes -= static_cast<size_t>(w);
      *counter += static_cast<uint64_t>(w);
      if (mode == FaultMode::kThrottle) d.tokens -= static_cast<double>(w);
      if (c.offset == c.bytes.size()) d.pending.pop_front();
    }
    if (d.eof && d.pending.empty() && !d.shut) {
      ::shutdown(to, SHUT_WR);  // pass the end of stream on, as a FIN
      d.shut = true;
    }
    return true;
  };

  // Reads and throws away whatever arrives on a silenced end; closes that end alone when its
  // peer closed it (the other end must not notice).
  auto drain_silenced = [&](port::UniqueFd& fd) {
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        counters.dropped += static_cast<uint64_t>(n);
        continue;
      }
      if (n == 0 || !WouldBlock(errno)) fd.Reset();
      return;
    }
  };

  // Accepts everything waiting in the backlog and decides each connection's fate by mode.
  auto accept_new = [&](FaultMode mode) {
    for (;;) {
      port::UniqueFd client(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!client.valid()) return;  // EAGAIN: the backlog is empty
      counters.accepted++;
      if (mode == FaultMode::kCut || conns.size() >= options_.max_connections) {
        ResetAndClose(client);
        counters.refused++;
        continue;
      }
      auto c = std::make_unique<Connection>();
      Configure(client.get());
      c->client = std::move(client);
      if (mode == FaultMode::kBlackhole) {
        c->silenced = true;  // no target: the client's handshake meets silence
      } else {
        c->target = ConnectLoopback(target_port_);
        if (!c->target.valid()) {
          ResetAndClose(c->client);  // target down: the client sees its connection fail
          counters.refused++;
          continue;
        }
        Configure(c->target.get());
      }
      conns.push_back(std::move(c));
    }
  };

  for (;;) {
    FaultMode mode;
    uint64_t param;
    uint64_t gen;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) break;
      mode = mode_;
      param = param_;
      gen = generation_;
    }
    if (gen != applied) {
      for (auto& c : conns) {
        if (mode == FaultMode::kCut) {
          ResetAndClose(c->client);
          ResetAndClose(c->target);
          c->dead = true;
          counters.cut++;
        } else if (mode == FaultMode::kBlackhole && !c->silenced) {
          c->silenced = true;
          counters.dropped += c->up.pending_bytes + c->down.pending_bytes;
          c->up = Direction();
          c->down = Direction();
        }
      }
      conns.erase(std::remove_if(conns.begin(), conns.end(), [](const auto& c) { return c->dead; }),
                  conns.end());
    }

    // Forward what can move now, before sleeping in poll: a mode switch (delay -> pass) may
    // have released bytes that no socket event will announce.
    Clock::time_point wake_at = Clock::now() + std::chrono::milliseconds(kMaxPollMs);
    for (auto& c : conns) {
      if (c->silenced) continue;
      if (!flush(c->target.get(), c->up, mode, param, &counters.to_target, &wake_at) ||
          !flush(c->client.get(), c->down, mode, param, &counters.from_target, &wake_at)) {
        ResetAndClose(c->client);
        ResetAndClose(c->target);
        c->dead = true;
      }
    }

    fds.clear();
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    fds.push_back({listen_fd_.get(), POLLIN, 0});
    for (auto& c : conns) {
      if (c->dead) continue;
      short client_events = 0;
      short target_events = 0;
      if (c->silenced) {
        client_events = POLLIN;
        target_events = POLLIN;
      } else {
        if (!c->up.eof && c->up.pending_bytes < options_.max_pending_bytes) client_events |= POLLIN;
        if (!c->down.eof && c->down.pending_bytes < options_.max_pending_bytes) {
          target_events |= POLLIN;
        }
        if (c->up.want_write) target_events |= POLLOUT;
        if (c->down.want_write) client_events |= POLLOUT;
      }
      c->client_poll = fds.size();
      fds.push_back({client_events != 0 ? c->client.get() : -1, client_events, 0});
      c->target_poll = fds.size();
      fds.push_back({target_events != 0 ? c->target.get() : -1, target_events, 0});
    }

    // Publish the applied mode and the counters before sleeping: a setter waiting for this
    // generation may go on now.
    {
      std::lock_guard<std::mutex> l(mu_);
      applied_ = gen;
      stats_.accepted = counters.accepted;
      stats_.refused = counters.refused;
      stats_.cut = counters.cut;
      stats_.live = 0;
      for (auto& c : conns) stats_.live += c->dead ? 0 : 1;
      stats_.bytes_to_target = counters.to_target;
      stats_.bytes_from_target = counters.from_target;
      stats_.bytes_dropped = counters.dropped;
      published_turns_++;
    }
    published_cv_.notify_all();
    if (gen != applied) {
      applied = gen;
      applied_cv_.notify_all();
    }

    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(wake_at - Clock::now());
    const int timeout_ms = static_cast<int>(std::clamp<int64_t>(wait.count(), 0, kMaxPollMs));
    if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) {
      uint64_t drained;
      (void)!::read(wake_fd_.get(), &drained, sizeof(drained));
    }

    for (auto& c : conns) {
      if (c->dead) continue;
      const short cr = fds[c->client_poll].revents;
      const short tr = fds[c->target_poll].revents;
      if (c->silenced) {
        if (cr != 0 && c->client.valid()) drain_silenced(c->client);
        if (tr != 0 && c->target.valid()) drain_silenced(c->target);
        if (!c->client.valid() && !c->target.valid()) c->dead = true;
        continue;
      }
      bool ok = true;
      if (cr & (POLLIN | POLLHUP | POLLERR)) {
        ok = read_into(c->client.get(), c->up, mode, param);
      }
      if (ok && (tr & (POLLIN | POLLHUP | POLLERR))) {
        ok = read_into(c->target.get(), c->down, mode, param);
      }
      if (ok) ok = flush(c->target.get(), c->up, mode, param, &counters.to_target, &wake_at);
      if (ok) ok = flush(c->client.get(), c->down, mode, param, &counters.from_target, &wake_at);
      if (!ok) {
        // One side reset or failed: reset the other too, as a broken path would.
        ResetAndClose(c->client);
        ResetAndClose(c->target);
        c->dead = true;
      } else if (c->up.shut && c->down.shut) {
        c->dead = true;  // both ends closed cleanly; the UniqueFds close on erase
      }
    }
    conns.erase(std::remove_if(conns.begin(), conns.end(), [](const auto& c) { return c->dead; }),
                conns.end());

    if (fds[1].revents & POLLIN) accept_new(mode);
  }
  // Normal closes (FIN) on the way out; the peers learn that the proxy went away.
  conns.clear();
  std::lock_guard<std::mutex> l(mu_);
  stats_.live = 0;
}

}  // namespace edge::test
