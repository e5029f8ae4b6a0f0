// `edge-agent status [--json] [--socket PATH | --config FILE]`: asks the running agent over its
// control socket (agent/daemon/control_server.h) and prints the answer.
#include <cstdio>
#include <string>
#include <vector>

#include "agent/cli/commands.h"
#include "agent/daemon/control_server.h"
#include "config/config.h"

namespace edge::cli {
namespace {

const char kStatusUsage[] =
    "usage: edge-agent status [--json | --metrics] [--socket PATH | --config FILE]\n"
    "  Ring depth and age, connection state, confirm lag and counters of the running agent.\n"
    "  The control socket defaults to /run/edge-agent/control.sock, or the one FILE names.\n";

}  // namespace

int StatusCommand(const std::vector<std::string>& args) {
  std::string socket = "/run/edge-agent/control.sock";
  std::string request = "status";
  for (size_t i = 0; i < args.size(); i++) {
    if (args[i] == "--json") {
      request = "status json";
    } else if (args[i] == "--metrics") {
      request = "metrics";
    } else if (args[i] == "--socket" && i + 1 < args.size()) {
      socket = args[++i];
    } else if (args[i] == "--config" && i + 1 < args.size()) {
      config::LoadOptions lo;
      lo.check_files = false;
      auto c = config::LoadConfig(port::FileSystem::Posix(), args[++i], lo);
      if (!c.ok()) {
        std::fprintf(stderr, "edge-agent status: %s\n", c.status().message().c_str());
        return kExitError;
      }
      socket = c->control.socket_path;
    } else {
      std::fprintf(stderr, "edge-agent status: unexpected argument '%s'\n%s", args[i].c_str(),
                   kStatusUsage);
      return kExitUsage;
    }
  }
  auto answer = daemon::QueryControl(socket, request, 5000);
  if (!answer.ok()) {
    std::fprintf(stderr, "edge-agent status: %s\n", answer.status().message().c_str());
    return kExitError;
  }
  std::fputs(answer->c_str(), stdout);
  return kExitOk;
}

}  // namespace edge::cli
