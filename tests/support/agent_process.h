// The real `edge-agent` binary in tests: its config, the daemon process, and the CLI.
//
// AgentProcess starts `edge-agent run` with fork/exec and signals it by its process id only
// (never by name). PR_SET_PDEATHSIG makes it die with the test binary if that is killed (a
// ctest timeout); the destructor SIGKILLs whatever still runs. Once reaped, a pid is never
// signalled again (it may belong to someone else by then).
//
// AgentOptions + AgentConfigJson write the config the daemon suites share: everything of one
// daemon (ring, sockets, password file, dead-letter file, log) in one directory, TLS to the
// BrokerFixture node, routes "main" (reaches the queue) and "nowhere" (same exchange, a routing
// key nothing is bound to, so the broker returns it).
//
// Thread-safety: none; AgentProcess::Start from the thread that will outlive the daemon (the
// child's PR_SET_PDEATHSIG fires when the thread that forked it ends).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "port/status.h"
#include "tests/support/broker_fixture.h"

namespace edge::test {

// --- A program run to completion (the CLI) ------------------------------------------------------

struct ProgramResult {
  int exit_code = -1;  // -1: did not exit normally (or timed out)
  std::string output;  // stdout and stderr
};

// Runs args[0] (a path, no PATH search) with args, stdout+stderr captured, killed (by its pid)
// after timeout.
ProgramResult RunProgram(const std::vector<std::string>& args, std::chrono::milliseconds timeout);

// --- The daemon's config ------------------------------------------------------------------------

struct AgentOptions {
  std::string agent_id = "gw-daemon-test";
  std::string dir;  // everything of this daemon lives here
  uint16_t broker_port = 0;
  std::string ring_size = "16MiB";
  std::string full_policy = "reject";
  std::string gap_report_route;  // ring.gap_report_route ("gaps" is a configured route); "" = none
  std::string max_frame_bytes = "1MiB";
  int confirm_window = 256;
  std::string exchange;
  std::string queue;
  int drain_ms = 20000;
  int max_connections = 0;  // 0: the agent's default
  int idle_timeout_s = 0;   // 0: the agent's default

  std::string config_path() const { return dir + "/agent.json"; }
  std::string password_path() const { return dir + "/broker.password"; }
  std::string ring_path() const { return dir + "/ring"; }
  std::string intake_socket() const { return dir + "/intake.sock"; }
  std::string control_socket() const { return dir + "/control.sock"; }
  std::string dead_letter_path() const { return dir + "/dead-letters.jsonl"; }
  std::string log_path() const { return dir + "/agent.log"; }
  std::string message_id(uint64_t seq) const { return agent_id + ":" + std::to_string(seq); }
};

std::string AgentConfigJson(const AgentOptions& o, const BrokerFixture& broker);

// Writes path atomically (temporary file + rename) with the given mode.
Status WriteFileAtomically(const std::string& path, const std::string& text, mode_t mode);

// Writes the config and the password file (mode 0600) of o.
Status WriteAgentConfig(const AgentOptions& o, const BrokerFixture& broker,
                        const std::string& password);

// --- The daemon process -------------------------------------------------------------------------

class AgentProcess {
 public:
  AgentProcess() = default;
  ~AgentProcess() { Kill(); }
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  // Starts argv (argv[0] the binary); stdout and stderr are appended to log_path.
  Status Start(const std::vector<std::string>& argv, const std::string& log_path);

  pid_t pid() const { return pid_; }
  // Reaps the daemon when it has exited.
  bool Running();
  // Sends sig to the daemon's pid (nothing once it was reaped).
  void Signal(int sig);
  bool WaitForExit(std::chrono::milliseconds timeout);
  // Valid once exited: the waitpid status.
  int wait_status() const { return status_; }
  bool exited_cleanly() const;
  // kill -9 by pid and reap. Nothing when not running.
  void Kill();

 private:
  pid_t pid_ = -1;
  bool exited_ = true;
  int status_ = 0;
};

// Polls until the daemon's intake socket accepts a connection and `edge-agent status` answers
// on its control socket, or timeout, or the daemon exits.
Status WaitForAgentReady(AgentProcess* agent, const std::string& binary, const AgentOptions& o,
                         std::chrono::milliseconds timeout);

}  // namespace edge::test
