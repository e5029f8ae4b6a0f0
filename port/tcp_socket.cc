#include "port/tcp_socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace edge::port {
namespace {

using Clock = std::chrono::steady_clock;

std::string AddressText(const sockaddr* addr) {
  char text[INET6_ADDRSTRLEN] = {0};
  const void* raw = nullptr;
  if (addr->sa_family == AF_INET) raw = &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr;
  if (addr->sa_family == AF_INET6) raw = &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr;
  if (raw == nullptr || inet_ntop(addr->sa_family, raw, text, sizeof(text)) == nullptr) {
    return "?";
  }
  return text;
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// One attempt on one resolved address. Returns the errno that ended it (0 on success, ETIMEDOUT
// when the deadline passed first).
int TryConnect(const addrinfo* ai, Clock::time_point deadline, UniqueFd* out) {
  UniqueFd fd(
      ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
  if (!fd.valid()) return errno;
  if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) return errno;
    for (;;) {
      pollfd p{fd.get(), POLLOUT, 0};
      int n = ::poll(&p, 1, RemainingMs(deadline));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno;
      if (n == 0) return ETIMEDOUT;
      break;
    }
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) return errno;
    if (so_error != 0) return so_error;
  }
  int one = 1;
  // Best effort: a socket without TCP_NODELAY still works, only slower.
  (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  *out = std::move(fd);
  return 0;
}

}  // namespace

std::string EndpointName(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<UniqueFd> ConnectTcp(const std::string& host, uint16_t port, int timeout_ms) {
  const std::string endpoint = EndpointName(host, port);
  if (host.empty() || port == 0) {
    return Status::InvalidArgument("connect to " + endpoint + ": host and port must be set");
  }
  if (timeout_ms <= 0) {
    return Status::InvalidArgument("connect to " + endpoint + ": timeout must be positive");
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  // No AI_ADDRCONFIG: on a gateway whose only interface is loopback (a local broker), glibc
  // would then resolve "localhost" to nothing.
  addrinfo* list = nullptr;
  const std::string service = std::to_string(port);
  int gai = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  if (gai != 0) {
    std::string reason = gai == EAI_SYSTEM ? std::strerror(errno) : ::gai_strerror(gai);
    return Status::Unavailable("resolve " + endpoint + ": " + reason);
  }

  // Report the last address's failure; with several addresses, list each one's reason.
  std::string failures;
  bool timed_out = false;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    UniqueFd fd;
    int err = TryConnect(ai, deadline, &fd);
    if (err == 0) {
      ::freeaddrinfo(list);
      return fd;
    }
    if (!failures.empty()) failures += "; ";
    failures += AddressText(ai->ai_addr) + ": " + std::strerror(err);
    if (err == ETIMEDOUT && RemainingMs(deadline) == 0) {
      timed_out = true;
      break;
    }
  }
  ::freeaddrinfo(list);
  if (timed_out) {
    return Status::Timeout("connect to " + endpoint + ": no answer within " +
                           std::to_string(timeout_ms) + " ms (" + failures + ")");
  }
  return Status::Unavailable("connect to " + endpoint + " (" + failures + ")");
}

}  // namespace edge::port
