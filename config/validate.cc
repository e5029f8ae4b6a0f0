// Rules that involve more than one field. Each error names the field to change and says what
// to do; each warning names something allowed but likely unintended. Fields that failed to
// parse are skipped (Diagnostics::Failed), so one mistake is reported once.
#include <cctype>
#include <cstdio>
#include <set>
#include <string>

#include "agent/ring/format.h"
#include "config/internal.h"

namespace edge::config {
namespace {

// sizeof(sockaddr_un::sun_path) is 108 on Linux, including the terminating NUL.
constexpr size_t kMaxSocketPathBytes = 107;
constexpr int64_t kAmqpsPort = 5671;
constexpr int64_t kAmqpPort = 5672;

bool IsBuiltinExchange(const std::string& name) { return name.rfind("amq.", 0) == 0; }

// A host name or IP address has letters, digits, '.', '-', '_' and, for IPv6, ':' (in brackets
// or not). Anything else, a stray newline or space above all, would only fail at connect time,
// in the log, far from the line that caused it. Returns what is wrong, "" when nothing.
std::string HostProblem(const std::string& host) {
  for (size_t i = 0; i < host.size(); i++) {
    const unsigned char ch = static_cast<unsigned char>(host[i]);
    if (std::isalnum(ch) || ch == '.' || ch == '-' || ch == '_' || ch == ':' || ch == '[' ||
        ch == ']') {
      continue;
    }
    std::string what;
    if (ch == '\n') {
      what = "a newline";
    } else if (ch == ' ' || ch == '\t') {
      what = "white space";
    } else if (ch < 0x20 || ch >= 0x7f) {
      char code[8];
      std::snprintf(code, sizeof(code), "0x%02x", ch);
      what = std::string("the byte ") + code;
    } else {
      what = std::string("'") + static_cast<char>(ch) + "'";
    }
    return "must be a host name or IP address (letters, digits, '.', '-', '_', ':'), but has " +
           what + " at character " + std::to_string(i + 1);
  }
  return "";
}

void ValidateRing(const AgentConfig& c, Diagnostics* d) {
  if (d->Failed("ring.size") || d->Failed("ring.segment_bytes")) return;
  ring::Geometry geometry;
  std::string why;
  if (!ring::ChooseGeometry(c.ring.size_bytes, c.ring.segment_bytes, &geometry, &why)) {
    d->Error(c.ring.segment_bytes != 0 ? "ring.segment_bytes" : "ring.size", why);
    return;
  }
  if (!d->Failed("intake.max_frame_bytes") &&
      c.intake.max_frame_bytes > geometry.max_payload_bytes()) {
    d->Warning("intake.max_frame_bytes",
               FormatSize(c.intake.max_frame_bytes) +
                   " is more than the largest record the ring "
                   "can hold (" +
                   std::to_string(geometry.max_payload_bytes()) + " bytes with segments of " +
                   FormatSize(geometry.segment_bytes) +
                   "); bigger payloads are refused as too_large. Raise ring.segment_bytes or lower "
                   "intake.max_frame_bytes");
  }
}

void ValidatePaths(const AgentConfig& c, Diagnostics* d) {
  const std::pair<const char*, const std::string*> sockets[] = {
      {"intake.socket_path", &c.intake.socket_path},
      {"control.socket_path", &c.control.socket_path}};
  for (const auto& [field, path] : sockets) {
    if (path->size() > kMaxSocketPathBytes) {
      d->Error(field, "is " + std::to_string(path->size()) +
                          " bytes long; a Unix socket path "
                          "may have at most " +
                          std::to_string(kMaxSocketPathBytes));
    }
  }
  if (c.intake.socket_path == c.control.socket_path) {
    d->Error("control.socket_path", "must differ from intake.socket_path");
  }
  if (c.dead_letter_path == c.ring.path) {
    d->Error("dead_letter_path", "must differ from ring.path");
  }
}

void ValidateTls(AgentConfig* c, Diagnostics* d) {
  const TlsConfig& tls = c->broker.tls;
  if (d->Failed("broker.tls") || d->Failed("broker.allow_plaintext")) return;
  if (!tls.enabled) {
    if (!c->broker.allow_plaintext) {
      d->Error("broker.tls.enabled",
               "false also needs broker.allow_plaintext: true; the agent never sends the "
               "password and the data unencrypted unless the config asks for it twice");
    } else {
      d->Warning("broker.tls.enabled",
                 "false: the password and every message cross the "
                 "network unencrypted (allowed by broker.allow_plaintext)");
    }
    if (!tls.ca_file.empty() || !tls.client_cert_file.empty() || !tls.client_key_file.empty()) {
      d->Warning("broker.tls",
                 "ca_file, client_cert_file and client_key_file are ignored while "
                 "broker.tls.enabled is false");
    }
    return;
  }
  if (c->broker.allow_plaintext) {
    d->Warning("broker.allow_plaintext", "has no effect while broker.tls.enabled is true");
  }
  if (const std::string why = HostProblem(tls.server_name); !why.empty()) {
    d->Error("broker.tls.server_name", why);
  }
  if (tls.verify && tls.ca_file.empty()) {
    d->Error("broker.tls.ca_file",
             "required when broker.tls.verify is true: the PEM file of "
             "the CA that signed the broker's certificate");
  }
  if (!tls.verify) {
    d->Warning("broker.tls.verify",
               "false: the broker's certificate is not checked, so anyone "
               "on the network path can pose as the broker");
  }
  if (tls.client_cert_file.empty() != tls.client_key_file.empty()) {
    const char* missing =
        tls.client_cert_file.empty() ? "broker.tls.client_cert_file" : "broker.tls.client_key_file";
    d->Error(missing, "required together with " +
                          std::string(tls.client_cert_file.empty() ? "client_key_file"
                                                                   : "client_cert_file") +
                          ": a client certificate and its key go together");
  }
}

void ValidateAuth(const AgentConfig& c, Diagnostics* d) {
  if (d->Failed("broker.auth") || d->Failed("broker.tls")) return;
  const AuthConfig& auth = c.broker.auth;
  const TlsConfig& tls = c.broker.tls;
  if (auth.mechanism == amqp::AuthMechanism::kPlain) {
    if (auth.user.empty()) {
      d->Error("broker.auth.user", "required when broker.auth.mechanism is \"plain\"");
    }
    if (auth.password_file.empty()) {
      d->Error("broker.auth.password_file",
               "required when broker.auth.mechanism is \"plain\": a file holding the password, "
               "readable only by the agent (chmod 600)");
    }
    return;
  }
  if (!tls.enabled) {
    d->Error("broker.auth.mechanism",
             "\"external\" needs TLS (broker.tls.enabled: true): the "
             "broker takes the user name from the client certificate");
  } else if (tls.client_cert_file.empty() || tls.client_key_file.empty()) {
    d->Error("broker.auth.mechanism",
             "\"external\" needs broker.tls.client_cert_file and broker.tls.client_key_file: the "
             "broker takes the user name from the client certificate");
  }
  if (!auth.user.empty() || !auth.password_file.empty()) {
    d->Warning("broker.auth", "user and password_file are ignored with mechanism \"external\"");
  }
}

void ValidateBroker(AgentConfig* c, Diagnostics* d) {
  ValidateTls(c, d);
  ValidateAuth(*c, d);
  const bool tls = c->broker.tls.enabled;
  for (size_t i = 0; i < c->broker.endpoints.size(); i++) {
    EndpointConfig& e = c->broker.endpoints[i];
    const std::string element = "broker.endpoints[" + std::to_string(i) + "]";
    const std::string path = element + ".port";
    const std::string host_problem = HostProblem(e.host);
    if (!host_problem.empty() && !d->Failed(element + ".host")) {
      d->Error(element + ".host", host_problem);
    }
    if (e.port == 0) e.port = tls ? kAmqpsPort : kAmqpPort;  // not given: the scheme's port
    if (d->Failed("broker.tls")) continue;
    if (tls && e.port == kAmqpPort) {
      d->Warning(path,
                 "5672 is RabbitMQ's plaintext port, but TLS is enabled (the TLS port is "
                 "usually 5671)");
    } else if (!tls && e.port == kAmqpsPort) {
      d->Warning(path, "5671 is RabbitMQ's TLS port, but TLS is disabled");
    }
  }
  if (!d->Failed("broker.backoff_initial_ms") && !d->Failed("broker.backoff_max_ms") &&
      c->broker.backoff_max_ms < c->broker.backoff_initial_ms) {
    d->Error("broker.backoff_max_ms", "must be at least broker.backoff_initial_ms (" +
                                          std::to_string(c->broker.backoff_initial_ms) + ")");
  }
  if (!d->Failed("broker.heartbeat_s") && c->broker.heartbeat_s == 0) {
    d->Warning("broker.heartbeat_s",
               "0 disables AMQP heartbeats: a silently dead link is "
               "noticed only when TCP gives up, often after many minutes");
  }
}

// Checks names for duplicates and the reserved amq. prefix; returns the set of names.
template <typename Spec>
std::set<std::string> CheckDeclaredNames(const std::vector<Spec>& specs, const char* list,
                                         Diagnostics* d) {
  std::set<std::string> names;
  for (size_t i = 0; i < specs.size(); i++) {
    const std::string path = std::string(list) + "[" + std::to_string(i) + "].name";
    if (d->Failed(path)) continue;
    if (IsBuiltinExchange(specs[i].name)) {
      d->Error(path, "names starting with \"amq.\" are reserved by the broker, got \"" +
                         specs[i].name + "\"");
    }
    if (!names.insert(specs[i].name).second) {
      d->Error(path, "\"" + specs[i].name + "\" is declared more than once");
    }
  }
  return names;
}

struct Declared {
  std::set<std::string> exchanges;
  std::set<std::string> queues;
};

Declared ValidateTopology(const AgentConfig& c, Diagnostics* d) {
  const TopologyConfig& t = c.topology;
  Declared declared;
  declared.exchanges = CheckDeclaredNames(t.exchanges, "topology.exchanges", d);
  declared.queues = CheckDeclaredNames(t.queues, "topology.queues", d);
  for (size_t i = 0; i < t.queues.size(); i++) {
    const publish::QueueSpec& q = t.queues[i];
    const std::string path = "topology.queues[" + std::to_string(i) + "]";
    if (d->Failed(path)) continue;
    if (q.quorum && !q.durable) {
      d->Error(path + ".durable",
               "false is impossible for a quorum queue (they are always "
               "durable); set durable: true or quorum: false");
    }
    if (!q.quorum && q.delivery_limit > 0) {
      d->Warning(path + ".delivery_limit",
                 "applies only to quorum queues; the broker ignores it "
                 "for queue \"" +
                     q.name + "\"");
    }
  }
  const bool declaring = c.broker.declare == publish::DeclareMode::kDeclare;
  for (size_t i = 0; i < t.bindings.size(); i++) {
    const publish::BindingSpec& b = t.bindings[i];
    const std::string path = "topology.bindings[" + std::to_string(i) + "]";
    if (d->Failed(path) || !declaring) continue;
    if (declared.queues.count(b.queue) == 0) {
      d->Warning(path + ".queue", "queue \"" + b.queue +
                                      "\" is not in topology.queues; it "
                                      "must already exist on the broker");
    }
    if (declared.exchanges.count(b.exchange) == 0 && !IsBuiltinExchange(b.exchange)) {
      d->Warning(path + ".exchange", "exchange \"" + b.exchange +
                                         "\" is not in "
                                         "topology.exchanges; it must already exist on the broker");
    }
  }
  if (c.broker.declare == publish::DeclareMode::kNone &&
      (!t.exchanges.empty() || !t.queues.empty() || !t.bindings.empty())) {
    d->Warning("topology", "is not declared or checked: broker.declare is \"none\"");
  }
  return declared;
}

void ValidateRoutes(const AgentConfig& c, const Declared& declared, Diagnostics* d) {
  if (d->Failed("routes") && c.routes.empty()) return;
  if (c.routes.empty() && !d->Failed("worker.enabled") && !c.worker.enabled) {
    d->Error("routes",
             "at least one route is needed: producers name a route for every payload "
             "(a gateway that only runs the worker sets worker.enabled: true)");
  }
  const bool declaring = c.broker.declare == publish::DeclareMode::kDeclare;
  for (const auto& [name, route] : c.routes) {
    const std::string path = "routes." + name;
    if (d->Failed(path)) continue;
    if (route.exchange.empty() && route.routing_key.empty()) {
      d->Error(path + ".routing_key",
               "required with the default exchange (\"\"): it is the "
               "name of the queue the messages go to");
    }
    if (declaring && !route.exchange.empty() && declared.exchanges.count(route.exchange) == 0 &&
        !IsBuiltinExchange(route.exchange)) {
      d->Warning(path + ".exchange", "exchange \"" + route.exchange +
                                         "\" is not in "
                                         "topology.exchanges, so the agent does not declare it; it "
                                         "must already exist on the broker");
    }
  }
}

// drop_oldest loses records on purpose; the gap report is how the broker side learns which.
void ValidateGapReport(const AgentConfig& c, Diagnostics* d) {
  if (d->Failed("ring.gap_report_route") || d->Failed("ring.full_policy") || d->Failed("routes")) {
    return;
  }
  const std::string& route = c.ring.gap_report_route;
  if (route.empty()) {
    if (c.ring.full_policy == ring::FullPolicy::kDropOldest) {
      d->Warning("ring.gap_report_route",
                 "is not set: records dropped under drop_oldest are only logged, counted and "
                 "listed by `edge-agent ring stats`, and no gap report reaches the broker");
    }
    return;
  }
  if (c.routes.count(route) == 0) {
    std::string names;
    for (const auto& [name, r] : c.routes) names += (names.empty() ? "" : ", ") + name;
    d->Error("ring.gap_report_route", "must name a route in routes, got \"" + route +
                                          "\" (routes: " + (names.empty() ? "none" : names) +
                                          ")");
  }
}

void ValidateWorker(const AgentConfig& c, const Declared& declared, Diagnostics* d) {
  const WorkerConfig& w = c.worker;
  if (!w.enabled || d->Failed("worker")) return;
  if (w.queue.empty()) d->Error("worker.queue", "required when worker.enabled is true");
  if (w.handler.empty()) {
    d->Error("worker.handler",
             "required when worker.enabled is true: the argv of the program "
             "that handles one job, e.g. [\"/usr/local/bin/handle-job\"]");
  } else if (w.handler[0].empty() || w.handler[0][0] != '/') {
    d->Error("worker.handler[0]",
             "must be an absolute path to the program (it is run without a "
             "shell or PATH search), got \"" +
                 w.handler[0] + "\"");
  }
  if (w.max_attempts > 1 && w.retry_delays_ms.empty()) {
    d->Error("worker.retry_delays_ms",
             "needs at least one delay when worker.max_attempts is "
             "more than 1");
  }
  if (!w.queue.empty() && c.broker.declare == publish::DeclareMode::kDeclare &&
      declared.queues.count(w.queue) == 0) {
    d->Warning("worker.queue", "queue \"" + w.queue +
                                   "\" is not in topology.queues; it must "
                                   "already exist on the broker");
  }
}

}  // namespace

void ValidateConfig(AgentConfig* config, Diagnostics* diag) {
  ValidateRing(*config, diag);
  ValidatePaths(*config, diag);
  ValidateBroker(config, diag);
  Declared declared = ValidateTopology(*config, diag);
  ValidateRoutes(*config, declared, diag);
  ValidateGapReport(*config, diag);
  ValidateWorker(*config, declared, diag);
}

}  // namespace edge::config
