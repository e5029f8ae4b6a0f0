// UniqueFd: sole owner of a file descriptor, closed when the owner goes away.
//
// Ownership lives in the type rather than in comments: a function that returns a UniqueFd hands
// the descriptor over; Release() gives it away explicitly (for APIs such as rabbitmq-c's
// amqp_tcp_socket_set_sockfd() that take ownership of a raw descriptor).
//
// Thread-safety: none; like any value, one UniqueFd is used by one thread at a time.
#pragma once

#include <unistd.h>

#include <utility>

namespace edge::port {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }

  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Gives the descriptor away; this object no longer closes it.
  int Release() { return std::exchange(fd_, -1); }

  // Closes the current descriptor (if any) and owns `fd` instead. close() errors are ignored on
  // purpose: for sockets and pipes there is nothing to retry, and Linux always frees the number.
  void Reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace edge::port
