// `edge-agent send`: hands one payload to the running agent through its intake socket, using
// the C client library (agent/client), exactly as any other local program would.
#pragma once

#include <string>
#include <vector>

namespace edge::cli {

// Exit codes of `edge-agent send`, beyond kExitOk (0) and kExitUsage (2) of commands.h:
// No answer: the agent is not running, no permission, or the connection failed or timed out
// (the same value as kExitError).
constexpr int kSendExitNoAnswer = 3;
// The agent refused: 10 + its answer code (11 ring_full ... 19 internal; see the usage text).
constexpr int kSendExitAnswerBase = 10;

// args: everything after "send".
int SendCommand(const std::vector<std::string>& args);

// Why edge_agent_connect returned rc, for a message: the OS's reason when the socket could not
// be reached (errno as the call left it), else the library's.
std::string ConnectFailureReason(int rc);

}  // namespace edge::cli
