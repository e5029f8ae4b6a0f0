#include "tests/support/cluster_fixture.h"

#include <csignal>
#include <cstdlib>
#include <sstream>
#include <thread>

namespace edge::test {

Result<std::unique_ptr<ClusterFixture>> ClusterFixture::Start() {
  std::unique_ptr<ClusterFixture> cluster(new ClusterFixture());
  // Node 0 first: it makes the certificates (a few seconds of RSA) and the secrets the others
  // copy. All three boot at the same time after that.
  auto first = BrokerFixture::Launch();
  if (!first.ok()) return first.status().WithContext("starting cluster node 0");
  cluster->nodes_.push_back(std::move(first).value());
  BrokerOptions shared;
  shared.erlang_cookie = cluster->nodes_[0]->erlang_cookie();
  shared.password = cluster->nodes_[0]->password();
  shared.certs = &cluster->nodes_[0]->certs();
  for (size_t i = 1; i < kNodes; i++) {
    auto node = BrokerFixture::Launch(shared);
    if (!node.ok()) return node.status().WithContext("starting cluster node " + std::to_string(i));
    cluster->nodes_.push_back(std::move(node).value());
  }
  cluster->running_.assign(kNodes, true);
  Status s = cluster->Form();
  if (!s.ok()) return s.WithContext("forming the test cluster; logs: " + cluster->LogTails());
  return cluster;
}

Status ClusterFixture::Form() {
  for (size_t i = 0; i < nodes_.size(); i++) {
    EDGE_RETURN_IF_ERROR(nodes_[i]->WaitUntilUp().WithContext("node " + nodes_[i]->node_name()));
  }
  // One join at a time: concurrent joins to one seed race on the schema.
  for (size_t i = 1; i < nodes_.size(); i++) {
    BrokerFixture& n = *nodes_[i];
    EDGE_RETURN_IF_ERROR(n.Ctl({"stop_app"}));
    EDGE_RETURN_IF_ERROR(n.Ctl({"join_cluster", nodes_[0]->node_name()}));
    EDGE_RETURN_IF_ERROR(n.Ctl({"start_app"}));
  }
  EDGE_RETURN_IF_ERROR(
      nodes_[0]->Ctl({"await_online_nodes", std::to_string(nodes_.size()), "--timeout", "120"}));
  return nodes_[0]->CreateUsers();
}

ClusterFixture::~ClusterFixture() {
  // Each BrokerFixture stops its node by pid and removes its directory. SIGTERM all first so
  // the nodes shut down side by side rather than one after another.
  for (size_t i = 0; i < nodes_.size(); i++) {
    if (running_[i]) nodes_[i]->Signal(SIGTERM);
  }
  nodes_.clear();
}

void ClusterFixture::KillHard(size_t i) {
  nodes_[i]->KillHard();
  running_[i] = false;
}

Status ClusterFixture::Restart(size_t i) {
  EDGE_RETURN_IF_ERROR(nodes_[i]->Restart().WithContext("restarting " + nodes_[i]->node_name()));
  running_[i] = true;
  // Up is not yet "back in the cluster": wait until every node counts it as running.
  return nodes_[i]->Ctl({"await_online_nodes", std::to_string(nodes_.size()), "--timeout", "120"});
}

Status ClusterFixture::WaitUntilSafeToStop(size_t i, std::chrono::seconds bound) const {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    Status s = nodes_[i]->QueuesCtl({"check_if_node_is_quorum_critical"});
    if (s.ok()) return s;
    if (std::chrono::steady_clock::now() >= deadline) {
      return s.WithContext(nodes_[i]->node_name() + " is still quorum critical after " +
                           std::to_string(bound.count()) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

Result<size_t> ClusterFixture::NodeServing(const std::string& connection_name) const {
  Status last = Status::NotFound("no running node");
  for (size_t asked = 0; asked < nodes_.size(); asked++) {
    if (!running_[asked]) continue;
    auto out = nodes_[asked]->CtlOutput(
        {"list_connections", "--no-table-headers", "--quiet", "port", "client_properties"});
    if (!out.ok()) {
      last = out.status();
      continue;
    }
    // One line per connection: "<listener port>\t[...{\"connection_name\",\"...\"}...]".
    std::istringstream lines(*out);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.find("\"" + connection_name + "\"") == std::string::npos) continue;
      const unsigned long port = std::strtoul(line.c_str(), nullptr, 10);
      for (size_t n = 0; n < nodes_.size(); n++) {
        if (port == nodes_[n]->amqps_port() || port == nodes_[n]->amqp_port()) return n;
      }
      return Status::Internal("connection '" + connection_name + "' on unknown port: " + line);
    }
    last = Status::NotFound("no connection named '" + connection_name + "' on " +
                            nodes_[asked]->node_name());
  }
  return last;
}

std::string ClusterFixture::LogTails() const {
  std::string out;
  for (const auto& n : nodes_) out += "\n--- " + n->node_name() + " ---\n" + n->LogTail();
  return out;
}

}  // namespace edge::test
