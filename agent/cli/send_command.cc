// `edge-agent send --route R [--socket PATH] [--header k=v]... [--wait confirmed]
//                  [--timeout-ms N] [PAYLOAD | -]`
#include "agent/cli/send_command.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "agent/cli/commands.h"
#include "agent/client/edge_agent_client.h"

namespace edge::cli {
namespace {

constexpr int kDefaultTimeoutMs = 60000;

const char kSendUsage[] =
    "usage: edge-agent send --route ROUTE [--socket PATH] [--header KEY=VALUE]...\n"
    "                       [--wait durable|confirmed] [--timeout-ms N] [PAYLOAD | -]\n"
    "\n"
    "Hands one payload to the running agent. The payload is PAYLOAD, or standard input when\n"
    "PAYLOAD is '-' or absent (binary-safe). Prints \"seq=N receipt=durable\" once the payload\n"
    "is on stable storage, or \"seq=N receipt=confirmed\" with --wait confirmed once the broker\n"
    "has confirmed it.\n"
    "\n"
    "options:\n"
    "  --route ROUTE        a route from the agent's config (required)\n"
    "  --socket PATH        the intake socket (default " EDGE_AGENT_DEFAULT_SOCKET
    ")\n"
    "  --header KEY=VALUE   a message header; repeatable; x-edge-* names are reserved\n"
    "  --wait confirmed     answer only after the broker confirmed the message\n"
    "  --timeout-ms N       give up waiting for the agent after N ms (default 60000)\n"
    "  --                   end of options (for a PAYLOAD that starts with '-')\n"
    "\n"
    "exit codes:\n"
    "   0  stored (durable), or confirmed with --wait confirmed\n"
    "   2  usage error\n"
    "   3  no answer: the agent is not running, the socket is not accessible, or the\n"
    "      connection failed or timed out (the payload may or may not be stored)\n"
    "  11  ring_full       the ring is full; retry later\n"
    "  12  too_large       the payload with route and headers exceeds the agent's limits\n"
    "  13  unknown_route   the route is not in the agent's config\n"
    "  14  bad_frame       the agent rejected the request (e.g. a reserved header name)\n"
    "  15  shutting_down   the agent is stopping; retry after it restarts\n"
    "  16  io_error        the agent could not write its ring; NOT acknowledged\n"
    "  17  not_delivered   --wait confirmed: the broker returned or rejected the message;\n"
    "                      it is kept in the agent's dead-letter file\n"
    "  18  timeout         --wait confirmed: no broker confirm in time; the payload is\n"
    "                      durable and will still be delivered\n"
    "  19  internal        a bug in the agent\n";

struct SendArgs {
  std::string route;
  std::string socket = EDGE_AGENT_DEFAULT_SOCKET;
  std::vector<std::pair<std::string, std::string>> headers;
  bool wait_confirmed = false;
  int timeout_ms = kDefaultTimeoutMs;
  bool payload_from_stdin = true;
  std::string payload;
};

int Usage(const char* problem) {
  std::fprintf(stderr, "edge-agent send: %s\n\n%s", problem, kSendUsage);
  return kExitUsage;
}

bool ParseTimeout(const std::string& text, int* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v <= 0 || v > 24L * 3600 * 1000) return false;
  *out = static_cast<int>(v);
  return true;
}

// Returns -1 when the arguments are good, else the exit code (usage printed).
int Parse(const std::vector<std::string>& args, SendArgs* out) {
  bool have_payload = false;
  bool options_done = false;
  for (size_t i = 0; i < args.size(); i++) {
    std::string arg = args[i];
    if (!options_done && (arg == "--help" || arg == "-h")) {
      std::fputs(kSendUsage, stdout);
      return kExitOk;
    }
    if (!options_done && arg == "--") {
      options_done = true;
      continue;
    }
    if (!options_done && arg.size() > 2 && arg.compare(0, 2, "--") == 0) {
      std::string name = arg;
      std::string value;
      bool has_value = false;
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        has_value = true;
      }
      if (name != "--route" && name != "--socket" && name != "--header" && name != "--wait" &&
          name != "--timeout-ms") {
        return Usage(("unknown option '" + name + "'").c_str());
      }
      if (!has_value) {
        if (i + 1 >= args.size()) return Usage((name + " needs a value").c_str());
        value = args[++i];
      }
      if (name == "--route") {
        if (value.empty()) return Usage("--route must not be empty");
        out->route = value;
      } else if (name == "--socket") {
        if (value.empty()) return Usage("--socket must not be empty");
        out->socket = value;
      } else if (name == "--header") {
        size_t sep = value.find('=');
        if (sep == std::string::npos || sep == 0) {
          return Usage(("--header expects KEY=VALUE, got '" + value + "'").c_str());
        }
        out->headers.emplace_back(value.substr(0, sep), value.substr(sep + 1));
      } else if (name == "--wait") {
        if (value != "confirmed" && value != "durable") {
          return Usage("--wait expects 'durable' or 'confirmed'");
        }
        out->wait_confirmed = value == "confirmed";
      } else if (!ParseTimeout(value, &out->timeout_ms)) {
        return Usage("--timeout-ms expects a whole number of milliseconds, 1..86400000");
      }
      continue;
    }
    if (have_payload) return Usage("more than one PAYLOAD given (quote it, or use '-')");
    have_payload = true;
    if (arg == "-") continue;  // standard input
    out->payload_from_stdin = false;
    out->payload = arg;
  }
  if (out->route.empty()) return Usage("--route is required");
  return -1;
}

bool ReadStdin(std::string* out, std::string* error) {
  char buf[64 << 10];
  for (;;) {
    size_t n = std::fread(buf, 1, sizeof(buf), stdin);
    out->append(buf, n);
    if (n < sizeof(buf)) {
      if (std::ferror(stdin)) {
        *error = std::strerror(errno);
        return false;
      }
      return true;
    }
  }
}

}  // namespace

std::string ConnectFailureReason(int rc) {
  return rc == EDGE_AGENT_E_CONNECT ? std::strerror(errno) : edge_agent_strerror(rc);
}

int SendCommand(const std::vector<std::string>& args) {
  SendArgs a;
  int rc = Parse(args, &a);
  if (rc >= 0) return rc;
  if (a.payload_from_stdin) {
    std::string error;
    if (!ReadStdin(&a.payload, &error)) {
      std::fprintf(stderr, "edge-agent send: reading the payload from standard input: %s\n",
                   error.c_str());
      return kSendExitNoAnswer;
    }
  }

  edge_agent_conn* conn = nullptr;
  rc = edge_agent_connect(a.socket.c_str(), a.timeout_ms, &conn);
  if (rc != EDGE_AGENT_OK) {
    const std::string reason = ConnectFailureReason(rc);
    std::fprintf(stderr,
                 "edge-agent send: cannot connect to %s: %s (is edge-agent running, and may this "
                 "user open its socket?)\n",
                 a.socket.c_str(), reason.c_str());
    return kSendExitNoAnswer;
  }
  std::vector<edge_agent_header> headers;
  for (const auto& [k, v] : a.headers) headers.push_back({k.c_str(), v.c_str(), v.size()});
  edge_agent_result result;
  rc =
      edge_agent_send(conn, a.route.c_str(), headers.data(), headers.size(), a.payload.data(),
                      a.payload.size(), a.wait_confirmed ? EDGE_AGENT_WAIT_CONFIRMED : 0u, &result);
  edge_agent_close(conn);

  if (rc == EDGE_AGENT_OK) {
    std::printf("seq=%llu receipt=%s\n", static_cast<unsigned long long>(result.seq),
                edge_agent_receipt_name(result.receipt));
    return kExitOk;
  }
  if (rc < 0) {
    std::fprintf(stderr, "edge-agent send: %s (%s)\n", edge_agent_strerror(rc), result.message);
    return kSendExitNoAnswer;
  }
  if (result.receipt >= EDGE_AGENT_RECEIPT_DURABLE) {
    std::fprintf(stderr, "edge-agent send: %s: %s (seq=%llu receipt=%s)\n",
                 edge_agent_code_name(rc), result.message,
                 static_cast<unsigned long long>(result.seq),
                 edge_agent_receipt_name(result.receipt));
  } else {
    std::fprintf(stderr, "edge-agent send: %s: %s\n", edge_agent_code_name(rc), result.message);
  }
  return kSendExitAnswerBase + rc;
}

}  // namespace edge::cli
