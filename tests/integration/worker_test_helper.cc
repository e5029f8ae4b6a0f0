// A Worker in its own process, so worker_test can kill -9 it mid-task.
//
// Usage: worker_test_helper HOST PORT CA_FILE USER QUEUE TIMEOUT_S HANDLER [ARGS...]
// The password comes from EDGE_TEST_BROKER_PASSWORD (not argv: argv is visible in ps).
// SIGTERM / SIGINT stop the worker the way the daemon does (Stop(), then Run() returns).
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "agent/worker/worker.h"

int main(int argc, char** argv) {
  if (argc < 8) {
    std::fprintf(stderr, "usage: %s HOST PORT CA_FILE USER QUEUE TIMEOUT_S HANDLER [ARGS...]\n",
                 argv[0]);
    return 2;
  }
  const char* password = std::getenv("EDGE_TEST_BROKER_PASSWORD");
  edge::amqp::Endpoint e;
  e.host = argv[1];
  e.port = static_cast<uint16_t>(std::atoi(argv[2]));
  e.ca_file = argv[3];
  e.server_name = "localhost";
  e.user = argv[4];
  e.password = password != nullptr ? password : "";
  e.heartbeat_s = 5;
  e.connect_timeout_ms = 3000;

  edge::worker::WorkerOptions o;
  o.endpoints = {e};
  o.queue = argv[5];
  o.timeout_s = std::atoi(argv[6]);
  o.retry_delays_ms = {200};
  o.agent_id = "worker-test-helper";
  o.reconnect_initial_ms = 100;
  o.reconnect_max_ms = 1000;
  for (int i = 7; i < argc; i++) o.handler_argv.push_back(argv[i]);

  // Signals as events on a dedicated thread; blocked before the worker thread exists.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  edge::worker::Worker worker(o);
  std::thread stopper([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    worker.Stop();
  });
  stopper.detach();  // the process ends with main; the thread only ever calls Stop()
  edge::Status s = worker.Run();
  if (!s.ok()) {
    std::fprintf(stderr, "worker_test_helper: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
