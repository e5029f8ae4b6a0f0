#include "port/poller.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace edge::port {

size_t Poller::Add(int fd, uint32_t events) {
  pollfd p{};
  p.fd = fd;
  if (events & kPollIn) p.events |= POLLIN;
  if (events & kPollOut) p.events |= POLLOUT;
  fds_.push_back(p);
  return fds_.size() - 1;
}

Status Poller::Wait(int timeout_ms) {
  for (pollfd& p : fds_) p.revents = 0;
  int n = ::poll(fds_.data(), static_cast<nfds_t>(fds_.size()), timeout_ms);
  if (n >= 0) return Status::Ok();
  if (errno == EINTR) return Status::Ok();
  return Status::IoError(std::string("poll failed: ") + std::strerror(errno));
}

uint32_t Poller::ready(size_t index) const {
  const short r = fds_[index].revents;
  uint32_t out = 0;
  if (r & POLLIN) out |= kPollIn;
  if (r & POLLOUT) out |= kPollOut;
  if (r & POLLHUP) out |= kPollHangup;
  if (r & (POLLERR | POLLNVAL)) out |= kPollError;
  return out;
}

}  // namespace edge::port
