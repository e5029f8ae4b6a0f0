#include "port/wakeup.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace edge::port {

Result<std::unique_ptr<Wakeup>> Wakeup::Create() {
  UniqueFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd.valid())
    return Status::Unavailable(std::string("eventfd failed: ") + std::strerror(errno));
  return std::unique_ptr<Wakeup>(new Wakeup(std::move(fd)));
}

void Wakeup::Signal() {
  const uint64_t one = 1;
  // EAGAIN means the counter is saturated: the loop is certain to wake anyway. Nothing else
  // can fail on a valid eventfd.
  for (;;) {
    ssize_t n = ::write(fd_.get(), &one, sizeof(one));
    if (n < 0 && errno == EINTR) continue;
    return;
  }
}

void Wakeup::Drain() {
  uint64_t count = 0;
  // One read resets the counter to zero; EAGAIN means it already was.
  for (;;) {
    ssize_t n = ::read(fd_.get(), &count, sizeof(count));
    if (n < 0 && errno == EINTR) continue;
    return;
  }
}

}  // namespace edge::port
