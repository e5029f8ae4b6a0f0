// The Prometheus endpoint over a real loopback connection.
#include "agent/daemon/metrics_http_server.h"

#include <gtest/gtest.h>

#include "port/tcp_socket.h"
#include "port/unix_socket.h"

namespace edge::daemon {
namespace {

std::string Get(uint16_t port, const std::string& request) {
  auto fd = port::ConnectTcp("127.0.0.1", port, 5000);
  EXPECT_TRUE(fd.ok()) << fd.status().ToString();
  if (!fd.ok()) return "";
  EXPECT_TRUE(port::WriteAll(fd->get(), request.data(), request.size(), 5000).ok());
  std::string answer;
  char buf[4096];
  for (;;) {
    size_t n = 0;
    if (!port::ReadSomeWithin(fd->get(), buf, sizeof(buf), &n, 5000).ok() || n == 0) break;
    answer.append(buf, n);
  }
  return answer;
}

TEST(MetricsHttpServer, ServesThePrometheusTextOnGetMetrics) {
  auto s = MetricsHttpServer::Start("127.0.0.1:0", [] { return "edge_agent_up 1\n"; });
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::string r = Get((*s)->port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(r.find("\r\n\r\nedge_agent_up 1\n"), std::string::npos);
}

TEST(MetricsHttpServer, AnswersOtherPathsAndMethodsWithClearErrors) {
  auto s = MetricsHttpServer::Start("127.0.0.1:0", [] { return "x\n"; });
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Get((*s)->port(), "GET / HTTP/1.1\r\n\r\n").rfind("HTTP/1.0 404", 0), 0u);
  EXPECT_EQ(Get((*s)->port(), "POST /metrics HTTP/1.1\r\n\r\n").rfind("HTTP/1.0 405", 0), 0u);
  EXPECT_EQ(Get((*s)->port(), "\r\n\r\n").rfind("HTTP/1.0 400", 0), 0u);
}

TEST(MetricsHttpServer, RefusesAnAddressThatIsNotHostAndPort) {
  EXPECT_FALSE(MetricsHttpServer::Start("localhost", [] { return ""; }).ok());
  EXPECT_FALSE(MetricsHttpServer::Start("not-an-ip:9469", [] { return ""; }).ok());
}

}  // namespace
}  // namespace edge::daemon
