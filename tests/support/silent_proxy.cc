#include "tests/support/silent_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace edge::test {
namespace {

int ConnectLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Copies what is readable on `from` to `to` (blocking write: loopback, small volumes).
// False when either side ended.
bool Forward(int from, int to) {
  char buf[16384];
  ssize_t n = ::recv(from, buf, sizeof(buf), MSG_DONTWAIT);
  if (n == 0) return false;
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  for (ssize_t off = 0; off < n;) {
    ssize_t w = ::send(to, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
    if (w <= 0) return false;
    off += w;
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<SilentProxy>> SilentProxy::Start(uint16_t target_port) {
  std::unique_ptr<SilentProxy> proxy(new SilentProxy());
  proxy->target_port_ = target_port;
  proxy->listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (proxy->listen_fd_ < 0 ||
      ::bind(proxy->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(proxy->listen_fd_, 8) != 0 ||
      ::getsockname(proxy->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Status::IoError(std::string("proxy listen: ") + std::strerror(errno));
  }
  proxy->port_ = ntohs(addr.sin_port);
  proxy->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  proxy->thread_ = std::thread(&SilentProxy::Run, proxy.get());
  return proxy;
}

SilentProxy::~SilentProxy() {
  stop_.store(true);
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void SilentProxy::Run() {
  struct Pair {
    int client;
    int broker;
  };
  std::vector<Pair> pairs;
  while (!stop_.load()) {
    std::vector<pollfd> fds;
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    const bool silent = silent_.load();
    for (const auto& p : pairs) {
      // Silent: stop reading (so nothing moves), but keep the sockets open.
      fds.push_back({silent ? -1 : p.client, POLLIN, 0});
      fds.push_back({silent ? -1 : p.broker, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), 200) < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) {
      int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        int broker = ConnectLoopback(target_port_);
        if (broker < 0) {
          ::close(client);
        } else {
          pairs.push_back({client, broker});
        }
      }
      continue;  // fds no longer lines up with pairs
    }
    for (size_t i = 0; i < pairs.size(); ++i) {
      if (silent_.load()) break;
      const pollfd& c = fds[2 + 2 * i];
      const pollfd& b = fds[3 + 2 * i];
      bool alive = true;
      if (c.revents != 0) alive = Forward(pairs[i].client, pairs[i].broker);
      if (alive && b.revents != 0) alive = Forward(pairs[i].broker, pairs[i].client);
      if (!alive) {
        ::close(pairs[i].client);
        ::close(pairs[i].broker);
        pairs.erase(pairs.begin() + static_cast<long>(i));
        break;  // indexes shifted; poll again
      }
    }
  }
  for (const auto& p : pairs) {
    ::close(p.client);
    ::close(p.broker);
  }
}

}  // namespace edge::test
