// ClusterFixture: a private three-node RabbitMQ cluster on loopback, for fail-over tests.
//
// How a user who outgrows one broker runs us: several nodes, quorum queues replicated on all
// of them, and the agent's config listing every node as an endpoint. Each node is a
// BrokerFixture (tests/support/broker_fixture.h): its own node name edgetest-<pid>-<n>@localhost,
// its own AMQP, AMQPS and Erlang distribution ports, its own directory, stopped by its process
// group id only. What the nodes share:
//   - the Erlang cookie (nodes of one cluster must have the same);
//   - the certificates (copied from the first node: one CA, so the agent has one ca_file);
//   - the users and their password (created once, on the first node, after the others joined:
//     users live in the cluster's shared database);
//   - epmd, the Erlang port mapper on 4369, which the first node starts if none runs. It is a
//     daemon in its own session, shared with any other Erlang node on the machine, and never
//     stopped by a test.
// Start-up: the three nodes boot in parallel (about as long as one), then nodes 1 and 2 join
// node 0 (rabbitmqctl stop_app, join_cluster, start_app), then the users are created and
// `await_online_nodes 3` confirms the cluster.
//
// Quorum queues stay available while a majority of their members runs: with three nodes, one
// may be down. KillHard() takes a node down (kill -9 of its process group); Restart() brings it
// back (it rejoins the cluster by itself: the database remembers its peers);
// WaitUntilSafeToStop() waits until no quorum queue would lose its majority without that node
// (`rabbitmq-queues check_if_node_is_quorum_critical`), which is the check to make before the
// next kill.
//
// Thread-safety: none; the test thread owns the fixture.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "port/status.h"
#include "tests/support/broker_fixture.h"

namespace edge::test {

class ClusterFixture {
 public:
  static constexpr size_t kNodes = 3;

  // Starts the nodes, forms the cluster and creates the users. Everything is stopped and
  // removed again if a step fails.
  static Result<std::unique_ptr<ClusterFixture>> Start();
  ~ClusterFixture();  // stops every node (by pid) and removes the directories
  ClusterFixture(const ClusterFixture&) = delete;
  ClusterFixture& operator=(const ClusterFixture&) = delete;

  size_t size() const { return nodes_.size(); }
  BrokerFixture& node(size_t i) { return *nodes_[i]; }
  const BrokerFixture& node(size_t i) const { return *nodes_[i]; }
  bool running(size_t i) const { return running_[i]; }

  // kill -9 node i (a crash or power cut of that machine, from everyone else's view).
  void KillHard(size_t i);
  // Starts node i again on its ports and directory and waits until it is back in the cluster.
  Status Restart(size_t i);
  // Waits (up to `bound`) until stopping node i would leave every quorum queue a majority.
  Status WaitUntilSafeToStop(size_t i, std::chrono::seconds bound) const;

  // Which node serves the AMQP connection whose client-provided name (connection_name) is
  // `connection_name`: asks the running nodes (rabbitmqctl list_connections) and maps the
  // listener port to a node. NotFound when no running node lists such a connection.
  Result<size_t> NodeServing(const std::string& connection_name) const;

  // Shared by all nodes.
  const std::string& user() const { return nodes_[0]->user(); }
  const std::string& password() const { return nodes_[0]->password(); }
  const TestCertificates& certs() const { return nodes_[0]->certs(); }

  // The last lines of every node's log, for failure messages.
  std::string LogTails() const;

 private:
  ClusterFixture() = default;
  Status Form();

  std::vector<std::unique_ptr<BrokerFixture>> nodes_;
  std::vector<bool> running_;
};

}  // namespace edge::test
