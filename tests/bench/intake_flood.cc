// intake_flood: hands a running agent payloads as fast as its intake takes them, for the
// footprint benchmark (scripts/bench-footprint.sh): several connections through the C client,
// each keeping --pipeline requests outstanding. Every answer must be `ok` with a durable
// receipt; anything else is counted and reported (exit 1), never ignored.
//
//   intake_flood --socket PATH --route R --count N [--bytes B] [--connections C] [--pipeline K]
// Connections run one after another in one thread, interleaved round-robin (no threads: the
// point is load on the agent, not on this program).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/client/edge_agent_client.h"

int main(int argc, char** argv) {
  std::string socket_path, route;
  unsigned long long count = 0;
  size_t bytes = 200;
  int connections = 4;
  size_t pipeline = 32;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    std::string v = argv[i + 1];
    if (a == "--socket") {
      socket_path = v;
    } else if (a == "--route") {
      route = v;
    } else if (a == "--count") {
      count = std::stoull(v);
    } else if (a == "--bytes") {
      bytes = std::stoul(v);
    } else if (a == "--connections") {
      connections = std::stoi(v);
    } else if (a == "--pipeline") {
      pipeline = std::stoul(v);
    } else {
      argc = 0;  // usage below
    }
  }
  if (socket_path.empty() || route.empty() || count == 0 || connections < 1 || pipeline < 1) {
    std::fprintf(stderr,
                 "usage: intake_flood --socket PATH --route R --count N [--bytes B] "
                 "[--connections C] [--pipeline K]\n");
    return 2;
  }
  std::vector<edge_agent_conn*> conns(static_cast<size_t>(connections), nullptr);
  for (auto& c : conns) {
    int rc = edge_agent_connect(socket_path.c_str(), 60000, &c);
    if (rc != EDGE_AGENT_OK) {
      std::fprintf(stderr, "intake_flood: connect %s: %s\n", socket_path.c_str(),
                   edge_agent_strerror(rc));
      return 2;
    }
  }
  std::string payload(bytes, 'p');
  unsigned long long sent = 0, ok = 0, failed = 0;
  std::string first_error;
  auto start = std::chrono::steady_clock::now();
  auto take_answer = [&](edge_agent_conn* c) {
    edge_agent_result r;
    int rc = edge_agent_read_result(c, &r);
    if (rc == EDGE_AGENT_OK && r.receipt >= EDGE_AGENT_RECEIPT_DURABLE) {
      ok++;
    } else {
      failed++;
      if (first_error.empty()) first_error = std::string(edge_agent_strerror(rc)) + " " + r.message;
    }
  };
  while (sent < count) {
    for (edge_agent_conn* c : conns) {
      while (edge_agent_outstanding(c) < pipeline && sent < count) {
        int rc = edge_agent_send_async(c, route.c_str(), nullptr, 0, payload.data(),
                                       payload.size(), 0, nullptr);
        if (rc != EDGE_AGENT_OK) {
          std::fprintf(stderr, "intake_flood: send: %s\n", edge_agent_strerror(rc));
          return 2;
        }
        sent++;
      }
      if (edge_agent_outstanding(c) >= pipeline) take_answer(c);
    }
  }
  for (edge_agent_conn* c : conns) {
    while (edge_agent_outstanding(c) > 0) take_answer(c);
    edge_agent_close(c);
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("intake_flood: %llu payloads of %zu bytes in %.1f s (%.0f/s): %llu durable, %llu "
              "failed%s%s\n",
              sent, bytes, s, sent / s, ok, failed, failed ? ", first: " : "",
              first_error.c_str());
  return failed == 0 ? 0 : 1;
}
