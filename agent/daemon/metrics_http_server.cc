#include "agent/daemon/metrics_http_server.h"

#include "port/poller.h"
#include "port/unix_socket.h"

namespace edge::daemon {
namespace {
constexpr size_t kMaxRequestBytes = 8192;
constexpr int kIoTimeoutMs = 2000;
constexpr int kPollMs = 200;  // how quickly the loop notices Stop

std::string Response(const char* status, const std::string& type, const std::string& body) {
  return std::string("HTTP/1.0 ") + status + "\r\nContent-Type: " + type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         body;
}
}  // namespace

Result<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen, std::function<std::string()> render) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("metrics.listen '" + listen + "' is not HOST:PORT");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = std::atoi(listen.c_str() + colon + 1);
  if (port < 0 || port > 65535) {
    return Status::InvalidArgument("metrics.listen '" + listen + "': bad port");
  }
  auto listener = port::TcpListener::Listen(host, static_cast<uint16_t>(port));
  if (!listener.ok()) return listener.status().WithContext("metrics endpoint");
  std::unique_ptr<MetricsHttpServer> s(new MetricsHttpServer());
  s->listener_ = std::move(listener).value();
  s->render_ = std::move(render);
  s->thread_ = std::thread([p = s.get()] { p->Loop(); });
  return s;
}

MetricsHttpServer::~MetricsHttpServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void MetricsHttpServer::Loop() {
  while (!stop_.load()) {
    port::Poller poller;
    poller.Add(listener_->fd(), port::kPollIn);
    if (!poller.Wait(kPollMs).ok() || (poller.ready(0) & port::kPollIn) == 0) continue;
    auto fd = listener_->Accept();
    if (fd.ok()) Serve(std::move(fd).value());
  }
}

void MetricsHttpServer::Serve(port::UniqueFd fd) {
  std::string request;
  char buf[1024];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequestBytes) {
    size_t n = 0;
    if (!port::ReadSomeWithin(fd.get(), buf, sizeof(buf), &n, kIoTimeoutMs).ok() || n == 0) break;
    request.append(buf, n);
  }
  std::string answer;
  size_t line_end = request.find("\r\n");
  std::string line = request.substr(0, line_end == std::string::npos ? 0 : line_end);
  if (line.rfind("GET ", 0) != 0) {
    answer = line.empty() ? Response("400 Bad Request", "text/plain", "bad request\n")
                          : Response("405 Method Not Allowed", "text/plain", "GET only\n");
  } else {
    std::string path = line.substr(4, line.find(' ', 4) - 4);
    if (path == "/metrics") {
      answer = Response("200 OK", "text/plain; version=0.0.4", render_());
    } else {
      answer = Response("404 Not Found", "text/plain", "try /metrics\n");
    }
  }
  (void)port::WriteAll(fd.get(), answer.data(), answer.size(), kIoTimeoutMs);
}

}  // namespace edge::daemon
