// The edge-agent subcommands. Each returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace edge::cli {

// Exit codes shared by every subcommand.
constexpr int kExitOk = 0;
constexpr int kExitProblemFound = 1;  // e.g. `ring verify` found damage
constexpr int kExitUsage = 2;
constexpr int kExitError = 3;         // could not do the job (cannot open, I/O error)

// `edge-agent ring verify|dump|stats PATH`: offline, read-only inspection of a ring file.
int RingCommand(const std::vector<std::string>& args);

// `edge-agent run --config FILE`: the daemon.
int RunCommand(const std::vector<std::string>& args);

// `edge-agent work --config FILE`: only the worker role.
int WorkCommand(const std::vector<std::string>& args);

// `edge-agent status [--json]`: asks the running agent over its control socket.
int StatusCommand(const std::vector<std::string>& args);

// `edge-agent dead-letters list FILE | requeue [...]`: reads a dead-letter file; hands its
// entries back to the running agent.
int DeadLettersCommand(const std::vector<std::string>& args);

}  // namespace edge::cli
