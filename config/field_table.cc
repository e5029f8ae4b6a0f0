// THE field table: every configuration option, its type, default, rule and description, and the
// member it fills. The parser, the defaults, check-config and the reference documentation all
// read this table; nothing else lists option names.
//
// Cross-field rules (plaintext needs allow_plaintext, external auth needs a client certificate,
// ...) cannot be expressed per field and live in validate.cc; their descriptions here say so.
#include <initializer_list>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/schema.h"

namespace edge::config {
namespace {

// --- Setters: one overload per member type. A field whose type does not match its member
// returns false, which the loader reports as an internal error (and config_test catches). ----

bool IsText(FieldType t) {
  return t == FieldType::kString || t == FieldType::kPath || t == FieldType::kName ||
         t == FieldType::kEnum || t == FieldType::kListen;
}

bool Assign(std::string* m, const Value& v) {
  if (!IsText(v.type)) return false;
  *m = v.text;
  return true;
}
bool Assign(bool* m, const Value& v) {
  if (v.type != FieldType::kBool) return false;
  *m = v.flag;
  return true;
}
bool Assign(int64_t* m, const Value& v) {
  if (v.type != FieldType::kInt) return false;
  *m = v.number;
  return true;
}
bool Assign(uint64_t* m, const Value& v) {
  if (v.type != FieldType::kSize) return false;
  *m = v.bytes;
  return true;
}
bool Assign(uint32_t* m, const Value& v) {
  if (v.type != FieldType::kOctalMode) return false;
  *m = v.mode;
  return true;
}
bool Assign(std::vector<std::string>* m, const Value& v) {
  if (v.type != FieldType::kStringList) return false;
  *m = v.texts;
  return true;
}
bool Assign(std::vector<int64_t>* m, const Value& v) {
  if (v.type != FieldType::kIntList) return false;
  *m = v.numbers;
  return true;
}
// Enums: the table's choices and these mappings must agree; a choice without a mapping returns
// false (an internal error that config_test's every-choice test would catch).
bool Assign(ring::FullPolicy* m, const Value& v) {
  if (v.type != FieldType::kEnum) return false;
  if (v.text == "reject")
    *m = ring::FullPolicy::kReject;
  else if (v.text == "drop_oldest")
    *m = ring::FullPolicy::kDropOldest;
  else
    return false;
  return true;
}
bool Assign(amqp::AuthMechanism* m, const Value& v) {
  if (v.type != FieldType::kEnum) return false;
  if (v.text == "plain")
    *m = amqp::AuthMechanism::kPlain;
  else if (v.text == "external")
    *m = amqp::AuthMechanism::kExternal;
  else
    return false;
  return true;
}
bool Assign(publish::DeclareMode* m, const Value& v) {
  if (v.type != FieldType::kEnum) return false;
  if (v.text == "declare")
    *m = publish::DeclareMode::kDeclare;
  else if (v.text == "passive")
    *m = publish::DeclareMode::kPassive;
  else if (v.text == "none")
    *m = publish::DeclareMode::kNone;
  else
    return false;
  return true;
}
bool Assign(ops::LogLevel* m, const Value& v) {
  if (v.type != FieldType::kEnum) return false;
  return ops::ParseLogLevel(v.text, m);
}

// A setter for `member` of an object of type Owner (a capture-less lambda decays to the
// table's function pointer). `member` is a member path (ring.path), so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define EDGE_MEMBER(Owner, member) \
  [](void* owner, const Value& v) { return Assign(&static_cast<Owner*>(owner)->member, v); }

// Appends a default element to a list member and returns it.
#define EDGE_APPEND(Owner, list)                       \
  [](void* owner, const std::string&) -> void* {       \
    auto& elements = static_cast<Owner*>(owner)->list; \
    elements.emplace_back();                           \
    return &elements.back();                           \
  }
// NOLINTEND(bugprone-macro-parentheses)

// Builds one row; reads like the table it is.
class Field {
 public:
  Field(const char* path, FieldType type) {
    spec_.path = path;
    spec_.type = type;
  }
  Field& Default(const char* json) {
    spec_.default_json = json;
    return *this;
  }
  Field& DefaultDoc(const char* text) {
    spec_.default_doc = text;
    return *this;
  }
  Field& Required() {
    spec_.required = true;
    return *this;
  }
  Field& Range(int64_t min, int64_t max) {
    spec_.min = min;
    spec_.max = max;
    return *this;
  }
  Field& Min(int64_t min) {
    spec_.min = min;
    return *this;
  }
  Field& MaxLength(int64_t max) {
    spec_.max = max;
    return *this;
  }
  Field& NonEmpty() { return Min(1); }
  Field& Choices(std::initializer_list<const char*> choices) {
    for (const char* c : choices) spec_.choices.emplace_back(c);
    return *this;
  }
  Field& Set(bool (*set)(void*, const Value&)) {
    spec_.set = set;
    return *this;
  }
  Field& Add(void* (*add)(void*, const std::string&)) {
    spec_.add = add;
    return *this;
  }
  Field& Doc(const char* description) {
    spec_.description = description;
    return *this;
  }
  operator FieldSpec() const { return spec_; }  // NOLINT: implicit by design

 private:
  FieldSpec spec_;
};

using T = FieldType;
using publish::BindingSpec;
using publish::ExchangeSpec;
using publish::QueueSpec;
using publish::Route;

constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kMaxSafeInt = int64_t{1} << 53;  // JSON numbers are doubles

std::vector<FieldSpec> BuildTable() {
  return {
      Field("agent_id", T::kName)
          .Required()
          .MaxLength(64)
          .Set(EDGE_MEMBER(AgentConfig, agent_id))
          .Doc("Unique name of this gateway. Part of every message id (<agent_id>:<seq>) and "
               "header, so consumers can drop duplicates and trace a message to its gateway."),

      // --- ring ---
      Field("ring", T::kSection)
          .Doc("The power-loss-safe on-disk ring that holds records until "
               "the broker confirms them."),
      Field("ring.path", T::kPath)
          .Default("\"/var/lib/edge-agent/ring\"")
          .NonEmpty()
          .Set(EDGE_MEMBER(AgentConfig, ring.path))
          .Doc("The ring file. Created (fully allocated) at first start; its size cannot change "
               "afterwards without deleting it."),
      Field("ring.size", T::kSize)
          .Default("\"256MiB\"")
          .Range(kMiB, int64_t{1} << 42)
          .Set(EDGE_MEMBER(AgentConfig, ring.size_bytes))
          .Doc("Size of the ring file: how much data survives a broker outage. Must match an "
               "existing ring."),
      Field("ring.full_policy", T::kEnum)
          .Default("\"reject\"")
          .Choices({"reject", "drop_oldest"})
          .Set(EDGE_MEMBER(AgentConfig, ring.full_policy))
          .Doc(
              "When the ring is full: reject new payloads (back-pressure; jobs, nothing is lost) "
              "or drop the oldest segment (telemetry; the loss is counted and reported as a gap)."),
      Field("ring.gap_report_route", T::kString)
          .Default("\"\"")
          .Set(EDGE_MEMBER(AgentConfig, ring.gap_report_route))
          .Doc("Route (a key of routes) that carries a gap report to the broker after "
               "drop_oldest dropped records: a JSON message naming the dropped seq ranges "
               "(docs/PROTOCOL.md). Empty: the ranges are only logged, counted and listed by "
               "`edge-agent ring stats`."),
      Field("ring.segment_bytes", T::kSize)
          .Default("0")
          .Range(0, int64_t{1} << 40)
          .Set(EDGE_MEMBER(AgentConfig, ring.segment_bytes))
          .Doc("Segment size (the unit drop_oldest drops, and the largest record). 0: chosen "
               "from the ring size (at most 4MiB, at least 4 segments)."),
      Field("ring.max_batch_records", T::kInt)
          .Default("4096")
          .Range(1, 1000000)
          .Set(EDGE_MEMBER(AgentConfig, ring.max_batch_records))
          .Doc("Most records written with one fdatasync."),
      Field("ring.max_batch_bytes", T::kSize)
          .Default("1048576")
          .Range(4096, int64_t{1} << 30)
          .Set(EDGE_MEMBER(AgentConfig, ring.max_batch_bytes))
          .Doc("Most bytes written with one fdatasync (also capped at one segment)."),

      // --- intake ---
      Field("intake", T::kSection).Doc("The local Unix socket producers send payloads to."),
      Field("intake.socket_path", T::kPath)
          .Default("\"/run/edge-agent/intake.sock\"")
          .NonEmpty()
          .Set(EDGE_MEMBER(AgentConfig, intake.socket_path))
          .Doc("Path of the intake socket (at most 107 bytes: the sun_path limit)."),
      Field("intake.socket_mode", T::kOctalMode)
          .Default("\"0660\"")
          .Set(EDGE_MEMBER(AgentConfig, intake.socket_mode))
          .Doc("Permissions of the intake socket, as an octal string: who may send payloads."),
      Field("intake.max_frame_bytes", T::kSize)
          .Default("1048576")
          .Range(64, int64_t{1} << 30)
          .Set(EDGE_MEMBER(AgentConfig, intake.max_frame_bytes))
          .Doc("Largest payload frame accepted; bigger ones are refused with too_large."),
      Field("intake.max_connections", T::kInt)
          .Default("64")
          .Range(1, 4096)
          .Set(EDGE_MEMBER(AgentConfig, intake.max_connections))
          .Doc("Most producer connections at once; more are refused."),
      Field("intake.idle_timeout_s", T::kInt)
          .Default("300")
          .Range(0, 86400)
          .Set(EDGE_MEMBER(AgentConfig, intake.idle_timeout_s))
          .Doc("A producer connection idle this long is closed. 0: never."),
      Field("intake.confirm_timeout_ms", T::kInt)
          .Default("30000")
          .Range(100, 86400000)
          .Set(EDGE_MEMBER(AgentConfig, intake.confirm_timeout_ms))
          .Doc("How long a producer that asked for `confirmed` waits before the answer "
               "`timeout` (the payload is durable and will still be forwarded)."),

      // --- control ---
      Field("control", T::kSection).Doc("The local control socket `edge-agent status` asks."),
      Field("control.socket_path", T::kPath)
          .Default("\"/run/edge-agent/control.sock\"")
          .NonEmpty()
          .Set(EDGE_MEMBER(AgentConfig, control.socket_path))
          .Doc("Path of the control socket (mode 0660: the agent's user and group)."),

      Field("dead_letter_path", T::kPath)
          .Default("\"/var/lib/edge-agent/dead-letters.jsonl\"")
          .NonEmpty()
          .Set(EDGE_MEMBER(AgentConfig, dead_letter_path))
          .Doc("JSON-lines file receiving every record the broker refused (unroutable, nacked too "
               "often, route removed) before the ring lets go of it."),

      // --- broker ---
      Field("broker", T::kSection).Required().Doc("The RabbitMQ broker(s) and how to log in."),
      Field("broker.endpoints", T::kObjectList)
          .Required()
          .Min(1)
          .Add(EDGE_APPEND(AgentConfig, broker.endpoints))
          .Doc("Brokers to connect to (e.g. every node of a cluster), tried in order: a lost "
               "connection or a failed connect moves to the next one; the back-off grows only "
               "when all failed in a row. At least one."),
      Field("broker.endpoints[].host", T::kString)
          .Required()
          .NonEmpty()
          .Set(EDGE_MEMBER(EndpointConfig, host))
          .Doc("Host name or address. With TLS, the broker certificate must name it (or set "
               "broker.tls.server_name)."),
      Field("broker.endpoints[].port", T::kInt)
          .Range(1, 65535)
          .DefaultDoc("5671 with TLS, 5672 without")
          .Set(EDGE_MEMBER(EndpointConfig, port))
          .Doc("TCP port."),
      Field("broker.endpoints[].vhost", T::kString)
          .Default("\"/\"")
          .NonEmpty()
          .Set(EDGE_MEMBER(EndpointConfig, vhost))
          .Doc("Virtual host."),
      Field("broker.tls", T::kSection).Doc("TLS for every endpoint (mbedTLS, TLS 1.2)."),
      Field("broker.tls.enabled", T::kBool)
          .Default("true")
          .Set(EDGE_MEMBER(AgentConfig, broker.tls.enabled))
          .Doc("Use TLS. false also requires broker.allow_plaintext: true; the agent never falls "
               "back to plaintext by itself."),
      Field("broker.tls.ca_file", T::kPath)
          .Default("\"\"")
          .Set(EDGE_MEMBER(AgentConfig, broker.tls.ca_file))
          .Doc("PEM file with the CA certificate(s) that signed the broker's certificate. "
               "Required when TLS is enabled and verify is true."),
      Field("broker.tls.verify", T::kBool)
          .Default("true")
          .Set(EDGE_MEMBER(AgentConfig, broker.tls.verify))
          .Doc("Verify the broker certificate (chain, dates, host name). Turning it off allows "
               "anyone on the path to read the traffic; a warning is logged."),
      Field("broker.tls.server_name", T::kString)
          .Default("\"\"")
          .Set(EDGE_MEMBER(AgentConfig, broker.tls.server_name))
          .Doc("Name the broker certificate must carry, and the SNI sent. Empty: the endpoint's "
               "host. Set it when connecting by IP address."),
      Field("broker.tls.client_cert_file", T::kPath)
          .Default("\"\"")
          .Set(EDGE_MEMBER(AgentConfig, broker.tls.client_cert_file))
          .Doc("PEM client certificate presented to the broker (needed for external auth). "
               "Together with client_key_file."),
      Field("broker.tls.client_key_file", T::kPath)
          .Default("\"\"")
          .Set(EDGE_MEMBER(AgentConfig, broker.tls.client_key_file))
          .Doc("PEM private key of the client certificate. Refused when other users can read it "
               "(chmod 600 or 640)."),
      Field("broker.allow_plaintext", T::kBool)
          .Default("false")
          .Set(EDGE_MEMBER(AgentConfig, broker.allow_plaintext))
          .Doc("Must be true for broker.tls.enabled: false (lab setups): plaintext is never "
               "silent."),
      Field("broker.auth", T::kSection).Doc("How the agent logs in to the broker."),
      Field("broker.auth.mechanism", T::kEnum)
          .Default("\"plain\"")
          .Choices({"plain", "external"})
          .Set(EDGE_MEMBER(AgentConfig, broker.auth.mechanism))
          .Doc("plain: user + password from password_file. external: the broker takes the user "
               "from the client certificate (needs TLS and client_cert_file/client_key_file)."),
      Field("broker.auth.user", T::kString)
          .Default("\"\"")
          .Set(EDGE_MEMBER(AgentConfig, broker.auth.user))
          .Doc("User name (plain; required there)."),
      Field("broker.auth.password_file", T::kPath)
          .Default("\"\"")
          .Set(EDGE_MEMBER(AgentConfig, broker.auth.password_file))
          .Doc("File holding the password (plain; required there), read at start; one trailing "
               "newline is ignored. Refused when other users can read it (chmod 600 or 640). "
               "Passwords are never written in the config itself."),
      Field("broker.heartbeat_s", T::kInt)
          .Default("30")
          .Range(0, 3600)
          .Set(EDGE_MEMBER(AgentConfig, broker.heartbeat_s))
          .Doc("AMQP heartbeat proposed to the broker; a dead link is noticed after about 2.5 "
               "intervals. 0 disables heartbeats (not advised)."),
      Field("broker.connect_timeout_ms", T::kInt)
          .Default("10000")
          .Range(100, 600000)
          .Set(EDGE_MEMBER(AgentConfig, broker.connect_timeout_ms))
          .Doc("TCP connect timeout per endpoint."),
      Field("broker.handshake_timeout_ms", T::kInt)
          .Default("10000")
          .Range(100, 600000)
          .Set(EDGE_MEMBER(AgentConfig, broker.handshake_timeout_ms))
          .Doc("TLS handshake timeout."),
      Field("broker.confirm_window", T::kInt)
          .Default("512")
          .Range(1, 65535)
          .Set(EDGE_MEMBER(AgentConfig, broker.confirm_window))
          .Doc("Messages published and not yet confirmed by the broker; after a reconnect at most "
               "this many are sent twice."),
      Field("broker.nack_retries", T::kInt)
          .Default("2")
          .Range(0, 100)
          .Set(EDGE_MEMBER(AgentConfig, broker.nack_retries))
          .Doc("Re-publishes of a message the broker nacked before it goes to the dead-letter "
               "file."),
      Field("broker.backoff_initial_ms", T::kInt)
          .Default("250")
          .Range(1, 3600000)
          .Set(EDGE_MEMBER(AgentConfig, broker.backoff_initial_ms))
          .Doc("First reconnect delay; doubles per failed round of endpoints (with jitter) up to "
               "backoff_max_ms."),
      Field("broker.backoff_max_ms", T::kInt)
          .Default("30000")
          .Range(1, 3600000)
          .Set(EDGE_MEMBER(AgentConfig, broker.backoff_max_ms))
          .Doc("Longest reconnect delay; at least backoff_initial_ms."),
      Field("broker.declare", T::kEnum)
          .Default("\"declare\"")
          .Choices({"declare", "passive", "none"})
          .Set(EDGE_MEMBER(AgentConfig, broker.declare))
          .Doc("At every connect: declare the topology (create what is missing), only check that "
               "it exists (passive; missing is fatal), or do nothing (none)."),

      // --- topology ---
      Field("topology", T::kSection)
          .Doc("Exchanges, queues and bindings the agent declares "
               "(see broker.declare)."),
      Field("topology.exchanges", T::kObjectList)
          .Add(EDGE_APPEND(AgentConfig, topology.exchanges))
          .Doc("Exchanges to declare."),
      Field("topology.exchanges[].name", T::kString)
          .Required()
          .NonEmpty()
          .Set(EDGE_MEMBER(ExchangeSpec, name))
          .Doc("Exchange name (not amq.*: reserved)."),
      Field("topology.exchanges[].type", T::kEnum)
          .Default("\"direct\"")
          .Choices({"direct", "topic", "fanout", "headers"})
          .Set(EDGE_MEMBER(ExchangeSpec, type))
          .Doc("Exchange type."),
      Field("topology.exchanges[].durable", T::kBool)
          .Default("true")
          .Set(EDGE_MEMBER(ExchangeSpec, durable))
          .Doc("Survives a broker restart."),
      Field("topology.queues", T::kObjectList)
          .Add(EDGE_APPEND(AgentConfig, topology.queues))
          .Doc("Queues to declare."),
      Field("topology.queues[].name", T::kString)
          .Required()
          .NonEmpty()
          .Set(EDGE_MEMBER(QueueSpec, name))
          .Doc("Queue name (not amq.*: reserved)."),
      Field("topology.queues[].durable", T::kBool)
          .Default("true")
          .Set(EDGE_MEMBER(QueueSpec, durable))
          .Doc("Survives a broker restart (quorum queues always do)."),
      Field("topology.queues[].quorum", T::kBool)
          .Default("false")
          .Set(EDGE_MEMBER(QueueSpec, quorum))
          .Doc("A replicated quorum queue (x-queue-type=quorum)."),
      Field("topology.queues[].dead_letter_exchange", T::kString)
          .Default("\"\"")
          .Set(EDGE_MEMBER(QueueSpec, dead_letter_exchange))
          .Doc("x-dead-letter-exchange: where rejected or expired messages go."),
      Field("topology.queues[].dead_letter_routing_key", T::kString)
          .Default("\"\"")
          .Set(EDGE_MEMBER(QueueSpec, dead_letter_routing_key))
          .Doc("x-dead-letter-routing-key."),
      Field("topology.queues[].max_length", T::kInt)
          .Default("0")
          .Range(0, kMaxSafeInt)
          .Set(EDGE_MEMBER(QueueSpec, max_length))
          .Doc("x-max-length in messages. 0: unbounded."),
      Field("topology.queues[].overflow", T::kEnum)
          .Default("\"\"")
          .Choices({"", "drop-head", "reject-publish", "reject-publish-dlx"})
          .Set(EDGE_MEMBER(QueueSpec, overflow))
          .Doc("x-overflow when max_length is reached. \"\": the broker default (drop-head)."),
      Field("topology.queues[].message_ttl_ms", T::kInt)
          .Default("0")
          .Range(0, 4294967295)
          .Set(EDGE_MEMBER(QueueSpec, message_ttl_ms))
          .Doc("x-message-ttl. 0: none."),
      Field("topology.queues[].delivery_limit", T::kInt)
          .Default("0")
          .Range(0, 2147483647)
          .Set(EDGE_MEMBER(QueueSpec, delivery_limit))
          .Doc("x-delivery-limit (quorum queues). 0: the broker default."),
      Field("topology.bindings", T::kObjectList)
          .Add(EDGE_APPEND(AgentConfig, topology.bindings))
          .Doc("Bindings to declare."),
      Field("topology.bindings[].queue", T::kString)
          .Required()
          .NonEmpty()
          .Set(EDGE_MEMBER(BindingSpec, queue))
          .Doc("Queue to bind."),
      Field("topology.bindings[].exchange", T::kString)
          .Required()
          .NonEmpty()
          .Set(EDGE_MEMBER(BindingSpec, exchange))
          .Doc("Exchange to bind it to."),
      Field("topology.bindings[].routing_key", T::kString)
          .Default("\"\"")
          .Set(EDGE_MEMBER(BindingSpec, routing_key))
          .Doc("Binding key."),

      // --- routes ---
      Field("routes", T::kObjectMap)
          .MaxLength(255)
          .Add([](void* owner, const std::string& name) -> void* {
            Route& route = static_cast<AgentConfig*>(owner)->routes[name];
            route.name = name;
            return &route;
          })
          .Doc("Route names producers use, each mapped to an exchange and routing key. Names: "
               "letters, digits, '.', '_', '-' (at most 255). At least one unless the agent only "
               "runs the worker."),
      Field("routes.<name>.exchange", T::kString)
          .Required()
          .Set(EDGE_MEMBER(Route, exchange))
          .Doc("Exchange to publish to; \"\" is the default exchange (routing_key = queue name). "
               "One not in topology.exchanges must already exist."),
      Field("routes.<name>.routing_key", T::kString)
          .Default("\"\"")
          .Set(EDGE_MEMBER(Route, routing_key))
          .Doc("Routing key."),
      Field("routes.<name>.content_type", T::kString)
          .Default("\"application/octet-stream\"")
          .NonEmpty()
          .Set(EDGE_MEMBER(Route, content_type))
          .Doc("Content type when the producer gives none."),

      // --- worker ---
      Field("worker", T::kSection)
          .Doc("The worker role: consume jobs from a queue and run a "
               "handler program for each."),
      Field("worker.enabled", T::kBool)
          .Default("false")
          .Set(EDGE_MEMBER(AgentConfig, worker.enabled))
          .Doc("Run the worker."),
      Field("worker.queue", T::kString)
          .Default("\"\"")
          .Set(EDGE_MEMBER(AgentConfig, worker.queue))
          .Doc("Queue to consume (required when enabled)."),
      Field("worker.prefetch", T::kInt)
          .Default("1")
          .Range(1, 65535)
          .Set(EDGE_MEMBER(AgentConfig, worker.prefetch))
          .Doc("Unacknowledged jobs the broker hands this worker at once (basic.qos). Handlers "
               "run one at a time; 1 gives fair dispatch across workers."),
      Field("worker.handler", T::kStringList)
          .Default("[]")
          .Set(EDGE_MEMBER(AgentConfig, worker.handler))
          .Doc("The handler's argv, e.g. [\"/usr/local/bin/handle-job\", \"--flag\"]; no shell. "
               "The first entry is an absolute path to an executable (required when enabled)."),
      Field("worker.timeout_s", T::kInt)
          .Default("30")
          .Range(1, 86400)
          .Set(EDGE_MEMBER(AgentConfig, worker.timeout_s))
          .Doc("A handler running longer is killed and the attempt counts as failed."),
      Field("worker.max_attempts", T::kInt)
          .Default("5")
          .Range(1, 1000)
          .Set(EDGE_MEMBER(AgentConfig, worker.max_attempts))
          .Doc("Attempts per job before it is dead-lettered."),
      Field("worker.retry_delays_ms", T::kIntList)
          .Default("[1000, 5000, 30000]")
          .Range(0, 86400000)
          .Set(EDGE_MEMBER(AgentConfig, worker.retry_delays_ms))
          .Doc("Delay before each retry; the last one repeats."),
      Field("worker.quorum", T::kBool)
          .Default("false")
          .Set(EDGE_MEMBER(AgentConfig, worker.quorum))
          .Doc("Declare the work, retry and dead-letter queues as quorum queues (replicated; "
               "the broker's delivery count then also counts worker crashes)."),
      Field("worker.declare", T::kBool)
          .Default("true")
          .Set(EDGE_MEMBER(AgentConfig, worker.declare))
          .Doc("Declare the queues: <queue>, one <queue>.retry.<delay_ms> per retry delay (a "
               "TTL queue that dead-letters back to <queue>) and <queue>.dead. false: they must "
               "exist already."),

      // --- log, metrics ---
      Field("log", T::kSection).Doc("Logging (to stderr; journald keeps it)."),
      Field("log.level", T::kEnum)
          .Default("\"info\"")
          .Choices({"debug", "info", "warning", "error"})
          .Set(EDGE_MEMBER(AgentConfig, log.level))
          .Doc("Least severe level logged."),
      Field("metrics", T::kSection).Doc("Prometheus metrics."),
      Field("metrics.textfile_path", T::kPath)
          .Default("\"\"")
          .Set(EDGE_MEMBER(AgentConfig, metrics.textfile_path))
          .Doc("Write metrics to this file for node_exporter's textfile collector. Empty: off."),
      Field("metrics.listen", T::kListen)
          .Default("\"\"")
          .Set(EDGE_MEMBER(AgentConfig, metrics.listen))
          .Doc("Serve /metrics over HTTP on this loopback HOST:PORT (e.g. 127.0.0.1:9469). "
               "Empty: off."),
      Field("metrics.interval_s", T::kInt)
          .Default("15")
          .Range(1, 3600)
          .Set(EDGE_MEMBER(AgentConfig, metrics.interval_s))
          .Doc("How often the textfile is rewritten."),
  };
}

#undef EDGE_MEMBER
#undef EDGE_APPEND

}  // namespace

const std::vector<FieldSpec>& FieldTable() {
  static const std::vector<FieldSpec> table = BuildTable();
  return table;
}

}  // namespace edge::config
