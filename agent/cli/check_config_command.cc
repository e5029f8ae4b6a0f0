// `edge-agent check-config [--skip-file-checks] FILE` and `edge-agent config-reference`.
// check-config runs the daemon's own loader, so "ok" here means the daemon accepts the file.
#include "agent/cli/check_config_command.h"

#include <cstdio>
#include <string>
#include <vector>

#include "agent/cli/commands.h"
#include "config/config.h"
#include "config/schema.h"

namespace edge::cli {
namespace {

const char kCheckConfigUsage[] =
    "usage: edge-agent check-config [--skip-file-checks] FILE\n"
    "\n"
    "Validates a config file as the agent would at start; prints every problem, one per line.\n"
    "  --skip-file-checks  check the document only: referenced files (CA, client certificate\n"
    "                      and key, password file, worker handler) need not exist\n"
    "exit status: 0 ok, 1 problems found, 2 usage error\n";

const char kReferenceUsage[] =
    "usage: edge-agent config-reference\n"
    "\n"
    "Prints every configuration field as a Markdown table.\n";

const char* PolicyName(ring::FullPolicy policy) {
  return policy == ring::FullPolicy::kReject ? "reject" : "drop_oldest";
}

const char* DeclareName(publish::DeclareMode mode) {
  switch (mode) {
    case publish::DeclareMode::kDeclare:
      return "declare";
    case publish::DeclareMode::kPassive:
      return "passive";
    case publish::DeclareMode::kNone:
      return "none";
  }
  return "?";
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : " ") + p;
  return out;
}

// What the agent will do, in a few lines an operator can compare with intent. No secrets: the
// password is never printed, only the file it came from.
void PrintSummary(const config::AgentConfig& c, bool files_checked) {
  std::printf("  agent_id  %s\n", c.agent_id.c_str());
  std::printf("  ring      %s, %s, full policy %s\n", c.ring.path.c_str(),
              config::FormatSize(c.ring.size_bytes).c_str(), PolicyName(c.ring.full_policy));
  std::printf("  intake    %s (mode %04o)\n", c.intake.socket_path.c_str(),
              c.intake.socket_mode & 0777u);
  const char* label = "  broker    ";
  for (const amqp::Endpoint& e : config::EndpointsFrom(c)) {
    std::printf("%s%s\n", label, e.Url().c_str());
    label = "            ";
  }
  const config::TlsConfig& tls = c.broker.tls;
  if (tls.enabled) {
    std::printf(
        "  tls       on, verify %s%s%s%s\n", tls.verify ? "on" : "OFF",
        tls.ca_file.empty() ? "" : (", CA " + tls.ca_file).c_str(),
        tls.client_cert_file.empty() ? "" : (", client cert " + tls.client_cert_file).c_str(),
        tls.server_name.empty() ? "" : (", server name " + tls.server_name).c_str());
  } else {
    std::printf("  tls       OFF (plaintext allowed by broker.allow_plaintext)\n");
  }
  if (c.broker.auth.mechanism == amqp::AuthMechanism::kPlain) {
    std::printf("  auth      plain, user %s, password from %s%s\n", c.broker.auth.user.c_str(),
                c.broker.auth.password_file.c_str(), files_checked ? "" : " (not read)");
  } else {
    std::printf("  auth      external (user from the client certificate)\n");
  }
  std::printf("  topology  %s: %zu exchanges, %zu queues, %zu bindings\n",
              DeclareName(c.broker.declare), c.topology.exchanges.size(), c.topology.queues.size(),
              c.topology.bindings.size());
  label = "  routes    ";
  for (const auto& [name, route] : c.routes) {
    std::printf("%s%s -> exchange \"%s\", routing key \"%s\"\n", label, name.c_str(),
                route.exchange.c_str(), route.routing_key.c_str());
    label = "            ";
  }
  if (c.worker.enabled) {
    std::printf("  worker    queue %s, handler %s, prefetch %lld, %lld attempts\n",
                c.worker.queue.c_str(), Join(c.worker.handler).c_str(),
                static_cast<long long>(c.worker.prefetch),
                static_cast<long long>(c.worker.max_attempts));
  } else {
    std::printf("  worker    off\n");
  }
  if (!files_checked) std::printf("  files     not checked (--skip-file-checks)\n");
}

}  // namespace

int CheckConfigCommand(const std::vector<std::string>& args) {
  config::LoadOptions options;
  std::string path;
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      std::fputs(kCheckConfigUsage, stdout);
      return kExitOk;
    }
    if (arg == "--skip-file-checks") {
      options.check_files = false;
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "edge-agent check-config: unknown option '%s'\n%s", arg.c_str(),
                   kCheckConfigUsage);
      return kExitUsage;
    } else if (path.empty()) {
      path = arg;
    } else {
      std::fprintf(stderr, "edge-agent check-config: one FILE only\n%s", kCheckConfigUsage);
      return kExitUsage;
    }
  }
  if (path.empty()) {
    std::fputs(kCheckConfigUsage, stderr);
    return kExitUsage;
  }
  Result<config::AgentConfig> loaded = config::LoadConfig(port::FileSystem::Posix(), path, options);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().message().c_str());
    return kExitProblemFound;
  }
  std::printf("%s: ok\n", path.c_str());
  PrintSummary(*loaded, options.check_files);
  for (const std::string& w : loaded->warnings) std::printf("warning: %s\n", w.c_str());
  return kExitOk;
}

int ConfigReferenceCommand(const std::vector<std::string>& args) {
  if (!args.empty()) {
    bool help = args[0] == "-h" || args[0] == "--help";
    std::fputs(kReferenceUsage, help ? stdout : stderr);
    return help ? kExitOk : kExitUsage;
  }
  std::fputs(config::FieldReferenceMarkdown().c_str(), stdout);
  return kExitOk;
}

}  // namespace edge::cli
