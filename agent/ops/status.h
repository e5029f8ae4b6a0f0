// StatusSnapshot: what `edge-agent status` shows and the metrics export, gathered by the daemon
// from the ring, the publisher and the intake at one moment. Plain data; rendering only here.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace edge::ops {

struct StatusSnapshot {
  std::string agent_id;
  std::string version;
  uint64_t uptime_s = 0;
  // Ring.
  std::string ring_path;
  std::string full_policy;
  uint64_t ring_bytes = 0;
  uint64_t ring_used_bytes = 0;
  uint64_t head_seq = 0;  // oldest unconfirmed record
  uint64_t next_seq = 0;  // the next record's seq; depth = next_seq - head_seq
  uint64_t oldest_unconfirmed_age_ms = 0;  // 0 when the ring is empty
  uint64_t dropped_total = 0;
  uint64_t damaged_total = 0;
  uint64_t rejected_full = 0;
  uint32_t epoch = 0;
  // Broker.
  bool connected = false;
  std::string endpoint;
  std::string last_error;
  std::string blocked;
  uint64_t published = 0;
  uint64_t confirmed = 0;
  uint64_t returned = 0;
  uint64_t nacked = 0;
  uint64_t dead_lettered = 0;
  uint64_t reconnects = 0;
  uint64_t connect_failures = 0;
  uint64_t in_flight = 0;
  uint64_t confirm_lag = 0;  // durable records not yet settled
  int64_t tls_cert_expiry_days = -1;  // our client certificate; -1 = none configured
  // Intake.
  uint64_t intake_connections = 0;
  // Connections closed at once because max_connections were open, and connections closed for a
  // framing error or a frame over max_frame_bytes: a producer that cannot get in, or one that
  // speaks the protocol wrong, shows here and not only in the log.
  uint64_t intake_connections_refused = 0;
  uint64_t intake_connections_bad_frame = 0;
  std::map<std::string, uint64_t> intake_answers;  // by code name: ok, ring_full, ...

  uint64_t depth() const { return next_seq > head_seq ? next_seq - head_seq : 0; }
};

// Human-readable, aligned "name value" lines.
std::string RenderText(const StatusSnapshot& s);
// One JSON object (`edge-agent status --json`).
std::string RenderJson(const StatusSnapshot& s);
// Prometheus text exposition format, metric names edge_agent_*.
std::string RenderPrometheus(const StatusSnapshot& s);

}  // namespace edge::ops
