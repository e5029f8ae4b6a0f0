#include "agent/ops/status.h"

#include <cjson/cJSON.h>

#include <cstdio>
#include <memory>

namespace edge::ops {
namespace {

struct JsonDeleter {
  void operator()(cJSON* j) const { cJSON_Delete(j); }
};

// Values start in one column, past the longest name ("intake_connections_bad_frame") and a
// space; a name longer than the column still gets its space.
std::string Line(const char* name, const std::string& value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%-28s ", name);
  return std::string(buf) + value + "\n";
}
std::string Line(const char* name, uint64_t value) { return Line(name, std::to_string(value)); }

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Metric(std::string* out, const char* name, const char* type, const char* help,
            uint64_t value, const std::string& labels = "") {
  *out += std::string("# HELP ") + name + " " + help + "\n";
  *out += std::string("# TYPE ") + name + " " + type + "\n";
  *out += std::string(name) + (labels.empty() ? "" : "{" + labels + "}") + " " +
          std::to_string(value) + "\n";
}

}  // namespace

std::string RenderText(const StatusSnapshot& s) {
  std::string out;
  out += Line("agent_id", s.agent_id);
  out += Line("version", s.version);
  out += Line("uptime_s", s.uptime_s);
  out += Line("ring", s.ring_path + " (" + std::to_string(s.ring_bytes) + " bytes, policy " +
                          s.full_policy + ", epoch " + std::to_string(s.epoch) + ")");
  out += Line("ring_depth", std::to_string(s.depth()) + " records, " +
                                std::to_string(s.ring_used_bytes) + " bytes used");
  out += Line("oldest_unconfirmed_age", std::to_string(s.oldest_unconfirmed_age_ms) + " ms");
  out += Line("connection", s.connected ? "connected to " + s.endpoint : "disconnected");
  if (!s.blocked.empty()) out += Line("blocked_by_broker", s.blocked);
  if (!s.last_error.empty()) out += Line("last_error", s.last_error);
  out += Line("confirm_lag", std::to_string(s.confirm_lag) + " records (" +
                                 std::to_string(s.in_flight) + " in flight)");
  out += Line("published", s.published);
  out += Line("confirmed", s.confirmed);
  out += Line("returned", s.returned);
  out += Line("nacked", s.nacked);
  out += Line("dead_lettered", s.dead_lettered);
  out += Line("dropped", s.dropped_total);
  out += Line("damaged", s.damaged_total);
  out += Line("rejected_ring_full", s.rejected_full);
  out += Line("reconnects", s.reconnects);
  out += Line("connect_failures", s.connect_failures);
  out += Line("intake_connections", s.intake_connections);
  out += Line("intake_connections_refused", s.intake_connections_refused);
  out += Line("intake_connections_bad_frame", s.intake_connections_bad_frame);
  for (const auto& [code, n] : s.intake_answers) {
    out += Line(("intake_" + code).c_str(), n);
  }
  if (s.tls_cert_expiry_days >= 0) {
    out += Line("client_cert_expires_in", std::to_string(s.tls_cert_expiry_days) + " days");
  }
  return out;
}

std::string RenderJson(const StatusSnapshot& s) {
  std::unique_ptr<cJSON, JsonDeleter> o(cJSON_CreateObject());
  cJSON* j = o.get();
  auto num = [&](const char* k, double v) { cJSON_AddNumberToObject(j, k, v); };
  cJSON_AddStringToObject(j, "agent_id", s.agent_id.c_str());
  cJSON_AddStringToObject(j, "version", s.version.c_str());
  num("uptime_s", static_cast<double>(s.uptime_s));
  cJSON_AddStringToObject(j, "ring_path", s.ring_path.c_str());
  cJSON_AddStringToObject(j, "full_policy", s.full_policy.c_str());
  num("ring_bytes", static_cast<double>(s.ring_bytes));
  num("ring_used_bytes", static_cast<double>(s.ring_used_bytes));
  num("ring_depth", static_cast<double>(s.depth()));
  num("head_seq", static_cast<double>(s.head_seq));
  num("next_seq", static_cast<double>(s.next_seq));
  num("oldest_unconfirmed_age_ms", static_cast<double>(s.oldest_unconfirmed_age_ms));
  num("epoch", s.epoch);
  cJSON_AddBoolToObject(j, "connected", s.connected);
  cJSON_AddStringToObject(j, "endpoint", s.endpoint.c_str());
  cJSON_AddStringToObject(j, "last_error", s.last_error.c_str());
  cJSON_AddStringToObject(j, "blocked", s.blocked.c_str());
  num("published", static_cast<double>(s.published));
  num("confirmed", static_cast<double>(s.confirmed));
  num("returned", static_cast<double>(s.returned));
  num("nacked", static_cast<double>(s.nacked));
  num("dead_lettered", static_cast<double>(s.dead_lettered));
  num("dropped", static_cast<double>(s.dropped_total));
  num("damaged", static_cast<double>(s.damaged_total));
  num("rejected_ring_full", static_cast<double>(s.rejected_full));
  num("reconnects", static_cast<double>(s.reconnects));
  num("connect_failures", static_cast<double>(s.connect_failures));
  num("in_flight", static_cast<double>(s.in_flight));
  num("confirm_lag", static_cast<double>(s.confirm_lag));
  num("tls_cert_expiry_days", static_cast<double>(s.tls_cert_expiry_days));
  num("intake_connections", static_cast<double>(s.intake_connections));
  num("intake_connections_refused", static_cast<double>(s.intake_connections_refused));
  num("intake_connections_bad_frame", static_cast<double>(s.intake_connections_bad_frame));
  cJSON* answers = cJSON_AddObjectToObject(j, "intake_answers");
  for (const auto& [code, n] : s.intake_answers) {
    cJSON_AddNumberToObject(answers, code.c_str(), static_cast<double>(n));
  }
  char* text = cJSON_PrintUnformatted(j);
  std::string out = text != nullptr ? text : "{}";
  cJSON_free(text);
  return out + "\n";
}

std::string RenderPrometheus(const StatusSnapshot& s) {
  std::string out;
  const std::string agent = "agent_id=\"" + Escape(s.agent_id) + "\"";
  Metric(&out, "edge_agent_up", "gauge", "1 while the agent runs.", 1,
         agent + ",version=\"" + Escape(s.version) + "\"");
  Metric(&out, "edge_agent_ring_bytes", "gauge", "Ring file size.", s.ring_bytes, agent);
  Metric(&out, "edge_agent_ring_used_bytes", "gauge", "Bytes held by unconfirmed records.",
         s.ring_used_bytes, agent);
  Metric(&out, "edge_agent_ring_depth_records", "gauge", "Records not yet confirmed.", s.depth(),
         agent);
  Metric(&out, "edge_agent_oldest_unconfirmed_age_seconds", "gauge",
         "Age of the oldest unconfirmed record.", s.oldest_unconfirmed_age_ms / 1000, agent);
  Metric(&out, "edge_agent_connected", "gauge", "1 while connected to a broker.",
         s.connected ? 1 : 0, agent);
  Metric(&out, "edge_agent_blocked", "gauge", "1 while the broker blocks publishing.",
         s.blocked.empty() ? 0 : 1, agent);
  Metric(&out, "edge_agent_confirm_lag_records", "gauge", "Durable records not yet settled.",
         s.confirm_lag, agent);
  Metric(&out, "edge_agent_published_total", "counter", "basic.publish calls (re-sends too).",
         s.published, agent);
  Metric(&out, "edge_agent_confirmed_total", "counter", "Records confirmed by the broker.",
         s.confirmed, agent);
  Metric(&out, "edge_agent_returned_total", "counter", "Unroutable messages returned.",
         s.returned, agent);
  Metric(&out, "edge_agent_nacked_total", "counter", "Messages nacked by the broker.", s.nacked,
         agent);
  Metric(&out, "edge_agent_dead_lettered_total", "counter",
         "Records written to the dead-letter file.", s.dead_lettered, agent);
  Metric(&out, "edge_agent_dropped_total", "counter", "Records dropped under drop_oldest.",
         s.dropped_total, agent);
  Metric(&out, "edge_agent_damaged_total", "counter",
         "Records lost to damage that recovery found, each counted once.", s.damaged_total, agent);
  Metric(&out, "edge_agent_rejected_ring_full_total", "counter",
         "Appends refused because the ring was full.", s.rejected_full, agent);
  Metric(&out, "edge_agent_reconnects_total", "counter", "Broker sessions opened after the first.",
         s.reconnects, agent);
  Metric(&out, "edge_agent_connect_failures_total", "counter", "Failed broker connects.",
         s.connect_failures, agent);
  Metric(&out, "edge_agent_intake_connections_refused_total", "counter",
         "Intake connections closed at once because max_connections were open.",
         s.intake_connections_refused, agent);
  Metric(&out, "edge_agent_intake_connections_bad_frame_total", "counter",
         "Intake connections closed for a malformed or oversized frame.",
         s.intake_connections_bad_frame, agent);
  out += "# HELP edge_agent_intake_answers_total Intake answers by code.\n";
  out += "# TYPE edge_agent_intake_answers_total counter\n";
  for (const auto& [code, n] : s.intake_answers) {
    out += "edge_agent_intake_answers_total{" + agent + ",code=\"" + Escape(code) + "\"} " +
           std::to_string(n) + "\n";
  }
  return out;
}

}  // namespace edge::ops
