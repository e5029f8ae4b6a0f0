// AgentConfig: everything the daemon needs, loaded from one JSON file and validated before the
// agent touches the ring or the network.
//
// The schema (field paths, types, defaults, rules, descriptions) lives in one table
// (config/schema.h, config/field_table.cc); `edge-agent config-reference` prints it.
//
// Loading is all-or-nothing: a Result holds a fully validated config, or a Status whose message
// lists EVERY problem found, one per line, each naming the file and the field:
//   config /etc/edge-agent/agent.json: broker.tls.ca_fle: unknown field (did you mean ca_file?)
//   config /etc/edge-agent/agent.json: ring.size: expected a size like 256MiB or an integer ...
// Secrets: the broker password is read from broker.auth.password_file at load time and kept only
// in AgentConfig::broker.auth.password; no message, summary or warning ever contains it.
//
// Thread safety: the functions here keep no state of their own and an AgentConfig is plain data.
// (cJSON itself resets a global error slot at every parse; nothing reads it, but a thread
// sanitizer would flag two parses at once, so load from one thread at a time.)
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/amqp/endpoint.h"
#include "agent/ops/log.h"
#include "agent/publish/publisher.h"
#include "agent/publish/topology.h"
#include "agent/ring/ring_store.h"
#include "agent/worker/worker_options.h"
#include "config/file_probe.h"
#include "port/file.h"
#include "port/status.h"

namespace edge::config {

// Members hold zero values only (TLS on and verifying: a hand-built config is secure too). Every
// real default is a column of the field table, applied by the loader, so the table is the one
// place a default is written.

struct RingConfig {
  std::string path;
  uint64_t size_bytes = 0;
  ring::FullPolicy full_policy = ring::FullPolicy::kReject;
  uint64_t segment_bytes = 0;  // 0: chosen by the ring (ring::ChooseGeometry)
  int64_t max_batch_records = 0;
  uint64_t max_batch_bytes = 0;
  std::string gap_report_route;  // "" = dropped ranges are not reported upstream
};

struct IntakeConfig {
  std::string socket_path;
  uint32_t socket_mode = 0;  // permission bits of the socket file, e.g. 0660
  uint64_t max_frame_bytes = 0;
  int64_t max_connections = 0;
  int64_t idle_timeout_s = 0;
  int64_t confirm_timeout_ms = 0;
};

struct ControlConfig {
  std::string socket_path;
};

struct EndpointConfig {
  std::string host;
  int64_t port = 0;  // after loading never 0: 5671 with TLS, 5672 plaintext when not given
  std::string vhost;
};

struct TlsConfig {
  bool enabled = true;
  std::string ca_file;
  bool verify = true;
  std::string server_name;
  std::string client_cert_file;
  std::string client_key_file;
};

struct AuthConfig {
  amqp::AuthMechanism mechanism = amqp::AuthMechanism::kPlain;
  std::string user;
  std::string password_file;
  // Read from password_file at load time (trailing newline stripped). Empty when the config was
  // loaded with check_files = false. Secret: never printed, logged or put in a message.
  std::string password;
};

struct BrokerConfig {
  std::vector<EndpointConfig> endpoints;
  TlsConfig tls;
  bool allow_plaintext = false;
  AuthConfig auth;
  int64_t heartbeat_s = 0;
  int64_t connect_timeout_ms = 0;
  int64_t handshake_timeout_ms = 0;
  int64_t confirm_window = 0;
  int64_t nack_retries = 0;
  int64_t backoff_initial_ms = 0;
  int64_t backoff_max_ms = 0;
  publish::DeclareMode declare = publish::DeclareMode::kDeclare;
};

struct TopologyConfig {
  std::vector<publish::ExchangeSpec> exchanges;
  std::vector<publish::QueueSpec> queues;
  std::vector<publish::BindingSpec> bindings;
};

struct WorkerConfig {
  bool enabled = false;
  std::string queue;
  int64_t prefetch = 0;
  std::vector<std::string> handler;  // argv; handler[0] is an absolute path to an executable
  int64_t timeout_s = 0;
  int64_t max_attempts = 0;
  std::vector<int64_t> retry_delays_ms;
  bool quorum = false;
  bool declare = true;
};

struct LogConfig {
  ops::LogLevel level = ops::LogLevel::kInfo;
};

struct MetricsConfig {
  std::string textfile_path;
  std::string listen;  // "" or a loopback "HOST:PORT"
  int64_t interval_s = 0;
};

struct AgentConfig {
  std::string origin;  // the file (or label) it was loaded from, for messages
  std::string agent_id;
  RingConfig ring;
  IntakeConfig intake;
  ControlConfig control;
  std::string dead_letter_path;
  BrokerConfig broker;
  TopologyConfig topology;
  std::map<std::string, publish::Route> routes;  // by route name; Route::name == key
  WorkerConfig worker;
  LogConfig log;
  MetricsConfig metrics;

  // Things that are allowed but worth a look ("routes.x.exchange: exchange \"y\" is not in
  // topology.exchanges ..."), each prefixed like an error. The daemon logs them at start.
  std::vector<std::string> warnings;
};

struct LoadOptions {
  // Check that referenced files (CA, client certificate and key, password file, worker handler)
  // exist and are readable / executable, refuse a password file or key readable by other users,
  // and read the password. false: only the document itself is checked (`check-config
  // --skip-file-checks`, tests of the example configs); the password stays empty.
  bool check_files = true;
  // Inspects referenced files (mode, readable, executable); nullptr: FileProbe::Posix(). It must
  // see the same files as the FileSystem passed to the loader (which reads the password).
  const FileProbe* probe = nullptr;
};

// Reads `path` through fs and parses it. The origin in messages is `path`.
Result<AgentConfig> LoadConfig(port::FileSystem* fs, const std::string& path,
                               const LoadOptions& options = LoadOptions());

// Parses and validates a JSON document. `origin` names it in messages; fs reads the password
// file (when options.check_files; nullptr: the POSIX file system).
Result<AgentConfig> ParseConfig(std::string_view json, const std::string& origin,
                                port::FileSystem* fs, const LoadOptions& options = LoadOptions());

// --- Conversions to the components' option structs ------------------------------------------

ring::RingOptions RingOptionsFrom(const AgentConfig& config);
// One Endpoint per broker.endpoints entry, each with the TLS settings, credentials (password
// included), heartbeat and timeouts applied.
std::vector<amqp::Endpoint> EndpointsFrom(const AgentConfig& config);
publish::Topology TopologyFrom(const AgentConfig& config);
// Routes, agent id, confirm window, nack retries and back-off.
publish::PublisherOptions PublisherOptionsFrom(const AgentConfig& config);
// The worker role's options: endpoints as EndpointsFrom, queue, handler, attempts, delays.
worker::WorkerOptions WorkerOptionsFrom(const AgentConfig& config);

// Parses a size: "1048576", "512KiB", "256MiB", "1GiB" (powers of 1024). On failure *error says
// why ("unknown unit MB; use KiB, MiB or GiB").
bool ParseSize(std::string_view text, uint64_t* bytes, std::string* error);
// "256MiB" when exact, else the byte count: for summaries.
std::string FormatSize(uint64_t bytes);

}  // namespace edge::config
