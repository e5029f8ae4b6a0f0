#include "agent/daemon/control_server.h"

#include "agent/ops/log.h"
#include "port/poller.h"

namespace edge::daemon {
namespace {
constexpr int kIoTimeoutMs = 2000;  // a control client gets this long to ask and to read
constexpr int kPollMs = 200;        // how quickly the loop notices Stop
}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::Start(const std::string& socket_path,
                                                            ControlHandlers handlers) {
  auto listener = port::UnixListener::Listen(socket_path, 0660);
  if (!listener.ok()) return listener.status().WithContext("control socket");
  std::unique_ptr<ControlServer> s(new ControlServer());
  s->listener_ = std::move(listener).value();
  s->handlers_ = std::move(handlers);
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

ControlServer::~ControlServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ControlServer::Loop() {
  while (!stop_.load()) {
    port::Poller poller;
    poller.Add(listener_->fd(), port::kPollIn);
    if (!poller.Wait(kPollMs).ok() || (poller.ready(0) & port::kPollIn) == 0) continue;
    auto fd = listener_->Accept();
    if (!fd.ok()) continue;
    Serve(std::move(fd).value());
  }
}

void ControlServer::Serve(port::UniqueFd fd) {
  // One short line; a client that sends nothing in time is dropped.
  std::string request;
  char buf[128];
  while (request.find('\n') == std::string::npos && request.size() < 64) {
    size_t n = 0;
    if (!port::ReadSomeWithin(fd.get(), buf, sizeof(buf), &n, kIoTimeoutMs).ok() || n == 0) break;
    request.append(buf, n);
  }
  while (!request.empty() && (request.back() == '\n' || request.back() == '\r')) {
    request.pop_back();
  }
  std::string answer;
  if (request == "status") {
    answer = ops::RenderText(handlers_.snapshot());
  } else if (request == "status json") {
    answer = ops::RenderJson(handlers_.snapshot());
  } else if (request == "metrics") {
    answer = ops::RenderPrometheus(handlers_.snapshot());
  } else if (request == "dead-letters move-aside" && handlers_.move_dead_letters_aside) {
    Result<std::string> moved = handlers_.move_dead_letters_aside();
    if (!moved.ok()) {
      ops::LogError("control: " + moved.status().message());
      answer = "error: " + moved.status().message() + "\n";
    } else if (moved->empty()) {
      answer = "empty\n";
    } else {
      // Logged here too: should the client be gone before it reads the answer, the log still
      // names the file whose entries wait for `edge-agent dead-letters requeue --file`.
      ops::LogInfo("control: dead-letter file moved aside to " + *moved + " for requeueing");
      answer = "moved " + *moved + "\n";
    }
  } else {
    answer = "error: unknown request '" + request.substr(0, 32) +
             "' (expected: status, status json, metrics, dead-letters move-aside)\n";
  }
  (void)port::WriteAll(fd.get(), answer.data(), answer.size(), kIoTimeoutMs);
}

Result<std::string> QueryControl(const std::string& socket_path, const std::string& request,
                                 int timeout_ms) {
  auto fd = port::ConnectUnix(socket_path, timeout_ms);
  if (!fd.ok()) {
    return Status(fd.status().code(),
                  "cannot reach the agent's control socket: " + fd.status().message() +
                      " (is edge-agent running, and is that its control socket?)");
  }
  std::string line = request + "\n";
  EDGE_RETURN_IF_ERROR(port::WriteAll(fd->get(), line.data(), line.size(), timeout_ms));
  std::string answer;
  char buf[4096];
  for (;;) {
    size_t n = 0;
    Status s = port::ReadSomeWithin(fd->get(), buf, sizeof(buf), &n, timeout_ms);
    if (!s.ok()) return s.WithContext("reading the agent's answer");
    if (n == 0) break;
    answer.append(buf, n);
  }
  return answer;
}

}  // namespace edge::daemon
