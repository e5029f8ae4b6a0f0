// BrokerFixture: a private RabbitMQ node for integration tests, with real TLS.
//
// Each fixture runs its own node, isolated from any system RabbitMQ (which may be running on
// 5672/25672 and is never touched):
//   - node name edgetest-<pid>-<n>@localhost; AMQP, AMQPS and distribution ports picked free at
//     run time on loopback (the distribution listener is bound to 127.0.0.1 too);
//   - its own directory under /tmp (mnesia, logs, rabbitmq.conf, enabled_plugins, Erlang cookie,
//     certificates generated at start with the openssl CLI, see test_certs.h);
//   - TLS listener with verify_peer and fail_if_no_peer_cert = false, SASL PLAIN, AMQPLAIN and
//     EXTERNAL (rabbitmq_auth_mechanism_ssl, user name from the client certificate's CN);
//   - users: a PLAIN user with a random password, and the EXTERNAL user named after the client
//     certificate's CN, both with full permissions on vhost "/".
// The node runs /usr/lib/rabbitmq/bin/rabbitmq-server (what the Debian rabbitmq-server wrapper
// runs after `su rabbitmq`) directly as the rabbitmq user, in its own process group, and is
// stopped by that process id only: SIGTERM, a grace period, then SIGKILL. Never by name.
//
// Start-up takes about 10-15 s, so a test binary shares one fixture across its tests.
// A cluster (tests/support/cluster_fixture.h) launches several fixtures at once with
// BrokerOptions that share the Erlang cookie, the certificates and the password.
// Set EDGE_TEST_KEEP_BROKER_DIR=1 to keep the directory (logs) after the run.
//
// Thread-safety: none; the test thread owns the fixture.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "port/status.h"
#include "tests/support/child_process.h"
#include "tests/support/test_certs.h"

namespace edge::test {

// What several nodes of one cluster share; each empty field is made fresh for the node.
struct BrokerOptions {
  std::string erlang_cookie;                // the same on every node of a cluster
  std::string password;                     // the PLAIN user's password
  const TestCertificates* certs = nullptr;  // copied into the node's directory (same CA)
};

class BrokerFixture {
 public:
  // Creates the directory, certificates and config, starts the node, waits until it accepts
  // connections and creates the users. Everything is cleaned up again if a step fails.
  static Result<std::unique_ptr<BrokerFixture>> Start(const BrokerOptions& options = {});
  // Only the first half of Start: directory, config and the node process, without waiting for
  // it, so several nodes can boot in parallel. Then WaitUntilUp(), and CreateUsers() once per
  // cluster (users live in the cluster's shared database).
  static Result<std::unique_ptr<BrokerFixture>> Launch(const BrokerOptions& options = {});
  Status WaitUntilUp();
  Status CreateUsers();

  // Stops the node (by pid) and removes its directory.
  ~BrokerFixture();
  BrokerFixture(const BrokerFixture&) = delete;
  BrokerFixture& operator=(const BrokerFixture&) = delete;

  // Graceful stop: SIGTERM to the node's process group, then SIGKILL after 30 s.
  void Stop();
  // kill -9 the node's process group at once (a crash or power cut, from the client's view).
  void KillHard();
  // Starts the node again on the same ports and directory (users and queues survive).
  Status Restart();
  // Sends a signal to the node's process group (SIGSTOP/SIGCONT to make it go silent).
  void Signal(int sig);

  // Runs `rabbitmqctl -n <node> args...` as the node's user; output in <dir>/log/ctl.log.
  Status Ctl(const std::vector<std::string>& args) const;
  // The same, returning what the command printed (e.g. list_connections user client_properties).
  Result<std::string> CtlOutput(const std::vector<std::string>& args) const;
  // `rabbitmq-queues -n <node> args...` (quorum queue health checks), like Ctl.
  Status QueuesCtl(const std::vector<std::string>& args) const;

  const std::string& node_name() const { return node_name_; }
  const std::string& erlang_cookie() const { return cookie_; }
  const std::string& dir() const { return dir_; }
  uint16_t amqp_port() const { return amqp_port_; }
  uint16_t amqps_port() const { return amqps_port_; }
  pid_t pid() const { return server_.pid(); }
  const TestCertificates& certs() const { return certs_; }
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  // The EXTERNAL user (the client certificate's CN).
  const std::string& external_user() const { return certs_.client_cn; }
  // The node's log file, for failure messages.
  std::string LogTail() const;

 private:
  BrokerFixture() = default;
  // Stops nodes and removes directories left by test binaries that died without cleaning up
  // (killed by a ctest timeout, crashed): see ReapStaleRuns() in the .cc.
  static void ReapStaleRuns();
  Status RunCtl(const char* program, const std::vector<std::string>& args,
                const std::string& output_file) const;
  Status Prepare(const BrokerOptions& options);
  Status SpawnServer();

  std::string node_name_;
  std::string dir_;
  std::string run_as_;  // "rabbitmq" when started as root, "" otherwise
  uint16_t amqp_port_ = 0;
  uint16_t amqps_port_ = 0;
  uint16_t dist_port_ = 0;
  TestCertificates certs_;
  std::string user_ = "edge-test";
  std::string password_;
  std::string cookie_;
  ChildProcess server_;
};

}  // namespace edge::test
