#include "port/unix_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace edge::port {
namespace {

using Clock = std::chrono::steady_clock;

std::string Prefix(const std::string& path) { return "unix socket " + path + ": "; }

Status FromErrno(const std::string& path, const char* what, int err) {
  std::string m = Prefix(path) + what + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
      return Status::NotFound(m);
    case EACCES:
    case EPERM:
      return Status::PermissionDenied(m);
    case ECONNREFUSED:
    case ECONNRESET:
    case EPIPE:
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      return Status::Unavailable(m);
    case ENOSPC:
      return Status::NoSpace(m);
    default:
      return Status::IoError(m);
  }
}

Status WouldBlock() { return Status::Timeout("would block"); }

bool FillAddress(const std::string& path, sockaddr_un* addr, Status* error) {
  *addr = sockaddr_un{};
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr->sun_path)) {
    *error = Status::InvalidArgument(Prefix(path) + "path must be 1.." +
                                     std::to_string(sizeof(addr->sun_path) - 1) + " bytes");
    return false;
  }
  std::memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits for events on fd until the deadline. OK when ready (or hung up: the next call reports
// what happened), kTimeout when the time ran out.
Status WaitFor(int fd, short events, Clock::time_point deadline, int timeout_ms) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, RemainingMs(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IoError(std::string("poll failed: ") + std::strerror(errno));
    if (n == 0) {
      return Status::Timeout("no progress within " + std::to_string(timeout_ms) + " ms");
    }
    return Status::Ok();
  }
}

}  // namespace

UnixListener::UnixListener(UniqueFd fd, std::string path, dev_t dev, ino_t ino)
    : fd_(std::move(fd)), path_(std::move(path)), dev_(dev), ino_(ino) {}

UnixListener::~UnixListener() {
  struct stat st {};
  // Only remove the file we created: after a restart race the path may already be a
  // successor's socket, and removing it would make that agent unreachable.
  if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ &&
      st.st_ino == ino_) {
    (void)::unlink(path_.c_str());
  }
}

Result<std::unique_ptr<UnixListener>> UnixListener::Listen(const std::string& path, uint32_t mode) {
  sockaddr_un addr;
  Status bad;
  if (!FillAddress(path, &addr, &bad)) return bad;

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status::AlreadyExists(Prefix(path) +
                                   "exists and is not a socket; refusing to remove it");
    }
    // A socket file outlives the process that made it. Remove it only when nobody answers.
    auto probe = ConnectUnix(path, 1000);
    if (probe.ok()) {
      return Status::AlreadyExists(Prefix(path) +
                                   "another process is listening there; is another edge-agent "
                                   "running?");
    }
    if (probe.status().code() != Code::kUnavailable && probe.status().code() != Code::kNotFound) {
      return probe.status();
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return FromErrno(path, "removing the stale socket failed", errno);
    }
  } else if (errno != ENOENT) {
    return FromErrno(path, "lstat failed", errno);
  }

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return FromErrno(path, "socket failed", errno);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return FromErrno(path, "bind failed", errno);
  }
  // From here on the file is ours: remove it again on every failure below.
  auto fail = [&](const char* what) {
    Status s = FromErrno(path, what, errno);
    (void)::unlink(path.c_str());
    return s;
  };
  // chmod before listen(): until listen() every connect() is refused, so the umask's
  // permissions on the fresh file never let anyone in.
  if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) return fail("chmod failed");
  if (::lstat(path.c_str(), &st) != 0) return fail("lstat after bind failed");
  if (::listen(fd.get(), SOMAXCONN) != 0) return fail("listen failed");
  return std::unique_ptr<UnixListener>(new UnixListener(std::move(fd), path, st.st_dev, st.st_ino));
}

Result<UniqueFd> UnixListener::Accept() {
  for (;;) {
    int c = ::accept4(fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) return UniqueFd(c);
    int err = errno;
    if (err == EINTR) continue;
    // A client that gave up between connect and accept is not our error.
    if (err == EAGAIN || err == EWOULDBLOCK || err == ECONNABORTED) return WouldBlock();
    return FromErrno(path_, "accept failed", err);
  }
}

Result<UniqueFd> ConnectUnix(const std::string& path, int timeout_ms) {
  sockaddr_un addr;
  Status bad;
  if (!FillAddress(path, &addr, &bad)) return bad;
  if (timeout_ms <= 0) return Status::InvalidArgument(Prefix(path) + "timeout must be positive");
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return FromErrno(path, "socket failed", errno);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
      return fd;
    }
    int err = errno;
    if (err == EINTR) continue;
    // A non-blocking AF_UNIX connect fails with EAGAIN when the listener's backlog is full
    // (it never returns EINPROGRESS): retry briefly until the deadline.
    if (err != EAGAIN) return FromErrno(path, "connect failed", err);
    if (RemainingMs(deadline) == 0) {
      return Status::Timeout(Prefix(path) + "listener backlog stayed full for " +
                             std::to_string(timeout_ms) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Status ReadSome(int fd, void* buf, size_t cap, size_t* n) {
  *n = 0;
  for (;;) {
    ssize_t r = ::recv(fd, buf, cap, 0);
    if (r >= 0) {
      *n = static_cast<size_t>(r);
      return Status::Ok();
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) return WouldBlock();
    if (err == ECONNRESET) return Status::Unavailable("read failed: connection reset by peer");
    return Status::IoError(std::string("read failed: ") + std::strerror(err));
  }
}

Status WriteSome(int fd, const void* data, size_t n, size_t* written) {
  *written = 0;
  for (;;) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w >= 0) {
      *written = static_cast<size_t>(w);
      return Status::Ok();
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) return WouldBlock();
    if (err == EPIPE || err == ECONNRESET) {
      return Status::Unavailable(std::string("write failed: ") + std::strerror(err));
    }
    return Status::IoError(std::string("write failed: ") + std::strerror(err));
  }
}

Status WriteAll(int fd, const void* data, size_t n, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    size_t w = 0;
    Status s = WriteSome(fd, p, n, &w);
    if (IsWouldBlock(s)) {
      EDGE_RETURN_IF_ERROR(WaitFor(fd, POLLOUT, deadline, timeout_ms));
      continue;
    }
    EDGE_RETURN_IF_ERROR(s);
    p += w;
    n -= w;
  }
  return Status::Ok();
}

Status ReadSomeWithin(int fd, void* buf, size_t cap, size_t* n, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    Status s = ReadSome(fd, buf, cap, n);
    if (!IsWouldBlock(s)) return s;
    EDGE_RETURN_IF_ERROR(WaitFor(fd, POLLIN, deadline, timeout_ms));
  }
}

}  // namespace edge::port
