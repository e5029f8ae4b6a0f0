// Unix stream sockets for the local intake: a listener that owns its socket file, an outgoing
// connect, and non-blocking byte I/O on any stream descriptor.
//
// Every descriptor made here is non-blocking and close-on-exec. Writes use MSG_NOSIGNAL, so a
// peer that went away is an error value (kUnavailable), never a SIGPIPE.
//
// "Would block" is reported as kTimeout with the message "would block" (see IsWouldBlock): it is
// the normal outcome of non-blocking I/O and callers wait in a Poller for readiness.
//
// Errors name the path and the OS reason, e.g.
//   "unix socket /run/edge-agent/intake.sock: bind failed: Permission denied"
//   "unix socket /run/edge-agent/intake.sock: exists and is not a socket; refusing to remove it"
//
// Thread-safety: the free functions are reentrant. A UnixListener is used by one thread at a
// time (its owner's poll loop).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "port/status.h"
#include "port/unique_fd.h"

namespace edge::port {

// True for the kTimeout "would block" outcome of the non-blocking calls below.
inline bool IsWouldBlock(const Status& s) { return s.code() == Code::kTimeout; }

class UnixListener {
 public:
  // Binds a Unix stream socket at path with permission bits mode (e.g. 0660) and listens.
  //
  // An existing path is handled conservatively: anything that is not a socket is refused
  // (kAlreadyExists) and left alone; a socket that accepts a connection belongs to a running
  // process and is refused (kAlreadyExists, "is another edge-agent running?"); only a socket
  // nobody listens on (connect is refused) is removed as stale.
  //
  // The mode is applied after bind() and before listen(): until listen() every connect() is
  // refused, so no client ever gets in through the looser permissions the umask gave bind().
  // kInvalidArgument when the path does not fit a sockaddr_un (107 bytes).
  static Result<std::unique_ptr<UnixListener>> Listen(const std::string& path, uint32_t mode);

  // Closes the socket and removes the socket file, but only if the path still names the socket
  // this listener created (a successor's socket at the same path is left alone).
  ~UnixListener();
  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;

  // Takes one pending connection (non-blocking, close-on-exec). IsWouldBlock() when none is
  // pending (also for a connection that was aborted before it was taken). kUnavailable for
  // resource exhaustion (EMFILE, ENFILE, ENOBUFS, ENOMEM): the caller should back off rather
  // than spin, because the listener stays readable.
  Result<UniqueFd> Accept();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

 private:
  UnixListener(UniqueFd fd, std::string path, dev_t dev, ino_t ino);

  UniqueFd fd_;
  std::string path_;
  dev_t dev_;  // identity of the socket file we bound, checked before unlinking it
  ino_t ino_;
};

// Connects to the Unix stream socket at path within timeout_ms (> 0). The returned descriptor
// is connected, non-blocking and close-on-exec. kNotFound when the path does not exist,
// kUnavailable when nobody listens there (connection refused), kPermissionDenied, kTimeout when
// the listener's backlog stayed full for the whole timeout.
Result<UniqueFd> ConnectUnix(const std::string& path, int timeout_ms);

// Reads at most cap bytes from a non-blocking stream. OK with *n > 0: bytes read; OK with
// *n == 0: the peer closed its side (end of stream); IsWouldBlock(): nothing to read now;
// kUnavailable: the connection was reset; kIoError otherwise.
Status ReadSome(int fd, void* buf, size_t cap, size_t* n);

// Writes at most n bytes to a non-blocking stream; *written may be less than n. IsWouldBlock():
// nothing could be written now; kUnavailable: the peer closed or reset the connection.
Status WriteSome(int fd, const void* data, size_t n, size_t* written);

// Blocking helpers over the non-blocking calls, for tools and tests: wait in poll(2) for at
// most timeout_ms in total. kTimeout (not "would block") when the time runs out.
Status WriteAll(int fd, const void* data, size_t n, int timeout_ms);
// Waits until some bytes (or end of stream, *n == 0) can be read, then reads them.
Status ReadSomeWithin(int fd, void* buf, size_t cap, size_t* n, int timeout_ms);

}  // namespace edge::port
