// ControlServer: answers `edge-agent status` and `edge-agent dead-letters requeue` on a Unix
// socket.
//
// Protocol (text, one request per connection): the client sends one line and reads until the
// server closes.
//   "status", "status json", "metrics"  RenderText / RenderJson / RenderPrometheus of a fresh
//                                       snapshot
//   "dead-letters move-aside"           "moved PATH\n" (the dead-letter file now at PATH, an
//                                       empty one in its place), "empty\n" (nothing to move) or
//                                       "error: REASON\n"
// Anything else gets "error: unknown request" and the connection closes.
// The socket's mode is 0660: the agent's group may ask; nobody else.
//
// Thread-safety: one thread of its own; the handlers must be thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "agent/ops/status.h"
#include "port/status.h"
#include "port/unix_socket.h"

namespace edge::daemon {

struct ControlHandlers {
  std::function<ops::StatusSnapshot()> snapshot;
  // publish::DeadLetterFile::MoveAside: the moved file's name, or "" when it was empty.
  std::function<Result<std::string>()> move_dead_letters_aside;
};

class ControlServer {
 public:
  static Result<std::unique_ptr<ControlServer>> Start(const std::string& socket_path,
                                                      ControlHandlers handlers);
  ~ControlServer();  // stops and removes the socket

 private:
  ControlServer() = default;
  void Loop();
  void Serve(port::UniqueFd fd);

  std::unique_ptr<port::UnixListener> listener_;
  ControlHandlers handlers_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The client side, for `edge-agent status`: sends request, returns the whole answer.
Result<std::string> QueryControl(const std::string& socket_path, const std::string& request,
                                 int timeout_ms);

}  // namespace edge::daemon
