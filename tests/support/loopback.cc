#include "tests/support/loopback.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

namespace edge::test {
namespace {

bool Reserved(uint16_t port) {
  return port == 4369 || port == 5671 || port == 5672 || port == 15672 || port == 25672 ||
         (port >= 35672 && port <= 35682) || port < 1024;
}

std::mutex g_mu;
std::set<uint16_t> g_picked;  // GUARDED_BY(g_mu): ports handed out by this process

}  // namespace

Result<uint16_t> PickFreePort() {
  for (int attempt = 0; attempt < 100; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::IoError(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);  // free on every interface, so on loopback too
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
              ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    ::close(fd);
    if (!ok) continue;
    uint16_t port = ntohs(addr.sin_port);
    std::lock_guard<std::mutex> lock(g_mu);
    if (Reserved(port) || !g_picked.insert(port).second) continue;
    return port;
  }
  return Status::Unavailable("no free TCP port found");
}

bool WaitForListener(uint16_t port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    if (fd >= 0) ::close(fd);
    if (ok) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace edge::test
