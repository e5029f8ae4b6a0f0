#include "port/tcp_listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace edge::port {

Result<std::unique_ptr<TcpListener>> TcpListener::Listen(const std::string& host, uint16_t port) {
  struct sockaddr_storage ss;
  std::memset(&ss, 0, sizeof(ss));
  socklen_t len;
  auto* v4 = reinterpret_cast<struct sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<struct sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(*v4);
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(*v6);
  } else {
    return Status::InvalidArgument("listen address '" + host + "' is not a numeric IP address");
  }
  const std::string where = host + ":" + std::to_string(port);
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::IoError("socket for " + where + ": " + std::strerror(errno));
  int one = 1;
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), reinterpret_cast<struct sockaddr*>(&ss), len) != 0) {
    return Status::Unavailable("cannot listen on " + where + ": " + std::strerror(errno));
  }
  if (::listen(fd.get(), 16) != 0) {
    return Status::IoError("listen on " + where + ": " + std::strerror(errno));
  }
  struct sockaddr_storage bound;
  socklen_t blen = sizeof(bound);
  uint16_t actual = port;
  if (::getsockname(fd.get(), reinterpret_cast<struct sockaddr*>(&bound), &blen) == 0) {
    actual = ntohs(bound.ss_family == AF_INET
                       ? reinterpret_cast<struct sockaddr_in*>(&bound)->sin_port
                       : reinterpret_cast<struct sockaddr_in6*>(&bound)->sin6_port);
  }
  return std::unique_ptr<TcpListener>(new TcpListener(std::move(fd), actual));
}

Result<UniqueFd> TcpListener::Accept() {
  int fd = ::accept4(fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      return Status::Timeout("no connection waiting");
    }
    return Status::IoError(std::string("accept: ") + std::strerror(errno));
  }
  return UniqueFd(fd);
}

}  // namespace edge::port
