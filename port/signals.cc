#include "port/signals.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>

#include <cstring>

namespace edge::port {

Result<std::unique_ptr<SignalWaiter>> SignalWaiter::Create() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) {
    return Status::Internal("cannot block signals");
  }
  // A peer that closes a socket must not kill the agent: writes report EPIPE instead.
  ::signal(SIGPIPE, SIG_IGN);
  int fd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (fd < 0) return Status::Internal(std::string("signalfd failed: ") + std::strerror(errno));
  return std::unique_ptr<SignalWaiter>(new SignalWaiter(UniqueFd(fd)));
}

SignalEvent SignalWaiter::Wait(int timeout_ms) {
  struct pollfd p = {fd_.get(), POLLIN, 0};
  int rc = ::poll(&p, 1, timeout_ms);
  if (rc <= 0) return SignalEvent::kNone;
  struct signalfd_siginfo info;
  if (::read(fd_.get(), &info, sizeof(info)) != static_cast<ssize_t>(sizeof(info))) {
    return SignalEvent::kNone;
  }
  if (info.ssi_signo == SIGHUP) return SignalEvent::kReload;
  return SignalEvent::kStop;
}

}  // namespace edge::port
