#include "port/service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "port/unique_fd.h"

namespace edge::port {

ServiceNotifier::ServiceNotifier() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path != nullptr && (path[0] == '/' || path[0] == '@')) socket_path_ = path;
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec != nullptr) {
    long long us = std::atoll(usec);
    if (us > 0) watchdog_ping_ms_ = static_cast<int>(us / 2000);
  }
}

void ServiceNotifier::Send(const std::string& message) {
  if (socket_path_.empty()) return;
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return;
  struct sockaddr_un addr;
  std::memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof(addr.sun_path)) return;
  std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  socklen_t len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) +
                                         socket_path_.size());
  // Best effort: systemd not listening is not an error for the agent.
  (void)::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL,
                 reinterpret_cast<struct sockaddr*>(&addr), len);
}

void ServiceNotifier::Ready() { Send("READY=1"); }
void ServiceNotifier::Stopping() { Send("STOPPING=1"); }
void ServiceNotifier::Reloading() { Send("RELOADING=1"); }
void ServiceNotifier::Status(const std::string& text) { Send("STATUS=" + text); }
void ServiceNotifier::WatchdogPing() { Send("WATCHDOG=1"); }

}  // namespace edge::port
