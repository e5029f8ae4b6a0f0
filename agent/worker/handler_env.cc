#include "agent/worker/handler_env.h"

#include <algorithm>

namespace edge::worker {

std::string HeaderEnvName(std::string_view header_name) {
  std::string name = "EDGE_HEADER_";
  for (char c : header_name) {
    if (c >= 'a' && c <= 'z') {
      name.push_back(static_cast<char>(c - 'a' + 'A'));
    } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      name.push_back(c);
    } else {
      name.push_back('_');
    }
  }
  return name;
}

std::vector<std::pair<std::string, std::string>> HandlerEnvironment(const Delivery& d, int attempt,
                                                                    bool duplicate) {
  std::vector<std::pair<std::string, std::string>> env = {
      {"EDGE_MESSAGE_ID", d.message_id()},
      {"EDGE_CORRELATION_ID", d.correlation_id()},
      {"EDGE_REPLY_TO", d.reply_to()},
      {"EDGE_ROUTING_KEY", d.routing_key()},
      {"EDGE_EXCHANGE", d.exchange()},
      {"EDGE_CONTENT_TYPE", d.content_type()},
      {"EDGE_REDELIVERED", d.redelivered() ? "1" : "0"},
      {"EDGE_ATTEMPT", std::to_string(attempt)},
      {"EDGE_DUPLICATE", duplicate ? "1" : "0"},
  };
  // Properties are producer input: a NUL byte cannot be passed in an environment string.
  for (auto& [name, value] : env) {
    if (value.find('\0') != std::string::npos) value.clear();
  }
  const amqp_basic_properties_t& p = d.properties();
  if ((p._flags & AMQP_BASIC_HEADERS_FLAG) == 0) return env;
  for (int i = 0; i < p.headers.num_entries; i++) {
    const amqp_table_entry_t& h = p.headers.entries[i];
    if (h.value.kind != AMQP_FIELD_KIND_UTF8 && h.value.kind != AMQP_FIELD_KIND_BYTES) continue;
    std::string_view value = View(h.value.value.bytes);
    if (value.size() > kMaxHeaderEnvBytes || value.find('\0') != std::string_view::npos) continue;
    env.emplace_back(HeaderEnvName(View(h.key)), std::string(value));
  }
  return env;
}

AttemptFailure DescribeAttempt(const port::SubprocessResult& r, int timeout_s, bool reply_wanted,
                               size_t max_reply_bytes) {
  using Outcome = port::SubprocessResult::Outcome;
  AttemptFailure f;
  switch (r.outcome) {
    case Outcome::kExited:
      f.exit_code = r.exit_code;
      if (r.exit_code != 0) {
        f.last_error = "exit code " + std::to_string(r.exit_code);
      } else if (reply_wanted && (r.stdout_truncated || r.stdout_data.size() > max_reply_bytes)) {
        f.last_error = "reply larger than " + std::to_string(max_reply_bytes) + " bytes";
      }
      return f;
    case Outcome::kSignaled:
      f.last_error = "killed by signal " + std::to_string(r.term_signal);
      return f;
    case Outcome::kTimedOut:
      f.last_error = "timed out after " + std::to_string(timeout_s) + " s";
      return f;
    case Outcome::kAborted:
      f.last_error = "stopped by the worker";
      return f;
  }
  return f;
}

}  // namespace edge::worker
