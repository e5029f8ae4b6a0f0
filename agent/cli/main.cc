// edge-agent: entry point. Dispatches to one subcommand per file in agent/cli/.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "agent/cli/check_config_command.h"
#include "agent/cli/commands.h"
#include "agent/cli/send_command.h"

namespace {

const char kUsage[] =
    "usage: edge-agent COMMAND [ARGS]\n"
    "\n"
    "Keeps payloads from local programs in a power-loss-safe on-disk ring and forwards them to\n"
    "RabbitMQ with publisher confirms.\n"
    "\n"
    "commands:\n"
    "  run --config FILE           run the agent (intake socket, ring, forwarding, control)\n"
    "  send --route R [PAYLOAD|-]  hand a payload to the running agent (see send --help)\n"
    "  work --config FILE          run only the worker: consume a queue, run the handler\n"
    "  status [--json]             the running agent's ring depth, connection, counters\n"
    "  check-config FILE           validate a config file without starting\n"
    "  config-reference            every config field with its default, as Markdown\n"
    "  ring verify PATH    check every record of a ring file; exit 1 if damage is found\n"
    "  ring dump PATH      list the unacknowledged records (seq, epoch, size, payload preview)\n"
    "  ring stats PATH     geometry, head, depth, counters of a ring file\n"
    "  dead-letters list FILE      the entries of a dead-letter file, counted by reason\n"
    "  dead-letters requeue        hand the agent's dead letters back to it (see --help)\n"
    "  help                this text\n"
    "\n"
    "The ring commands are read-only and safe to run while the agent is running.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? edge::cli::kExitUsage : edge::cli::kExitOk;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "ring") return edge::cli::RingCommand(args);
  if (command == "run") return edge::cli::RunCommand(args);
  if (command == "send") return edge::cli::SendCommand(args);
  if (command == "status") return edge::cli::StatusCommand(args);
  if (command == "dead-letters") return edge::cli::DeadLettersCommand(args);
  if (command == "work") return edge::cli::WorkCommand(args);
  if (command == "check-config") return edge::cli::CheckConfigCommand(args);
  if (command == "config-reference") return edge::cli::ConfigReferenceCommand(args);
  std::fprintf(stderr, "edge-agent: unknown command '%s'\n\n%s", command.c_str(), kUsage);
  return edge::cli::kExitUsage;
}
