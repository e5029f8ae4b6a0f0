// ChildProcess: a program the tests start and stop by process id, never by name.
//
// The child runs in its own process group, so Signal() reaches it and everything it forked
// (a RabbitMQ node is a shell script, the Erlang VM and its helper ports) and nothing else.
// Daemons that detach into their own session on purpose (epmd) are not ours to stop.
//
// Thread-safety: none; one test thread owns a ChildProcess.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "port/status.h"

namespace edge::test {

struct SpawnOptions {
  std::vector<std::string> argv;           // argv[0] is the program path (no PATH search)
  std::map<std::string, std::string> env;  // the child's whole environment
  std::string output_file;                 // stdout+stderr appended here ("" = /dev/null)
  std::string working_dir;                 // "" = inherit
  // When running as root: drop to this user (and its groups) before exec. "" = stay.
  std::string run_as_user;
  // Give the child a stdin pipe that stays open until it exits (programs such as
  // `openssl s_server` quit on end-of-input).
  bool hold_stdin_open = false;
  // SIGKILL the child when the thread that spawned it ends (PR_SET_PDEATHSIG; kept across exec,
  // lost when run_as_user changes credentials), so a test binary killed by a ctest timeout
  // leaves no child behind. Spawn from a thread that lives as long as the child should
  // (normally the test's main thread).
  bool die_with_parent = false;
};

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();  // SIGKILLs the group if still running
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  Status Spawn(const SpawnOptions& options);
  pid_t pid() const { return pid_; }
  bool running();  // reaps the child if it exited

  // Sends `sig` to the child's process group.
  void Signal(int sig);
  // Waits for the child to exit; false on timeout.
  bool WaitForExit(std::chrono::milliseconds timeout);
  // SIGTERM, wait up to `grace`, then SIGKILL the group and reap.
  void Stop(std::chrono::milliseconds grace);
  // Exit status as from waitpid (valid once the child exited).
  int exit_status() const { return exit_status_; }

 private:
  pid_t pid_ = -1;
  int exit_status_ = -1;
  int stdin_fd_ = -1;  // write end of the held stdin pipe
};

// Runs a program to completion (same options as Spawn), within `timeout`. The output goes to
// options.output_file; on failure the Status quotes its last lines.
Status RunToCompletion(const SpawnOptions& options, std::chrono::milliseconds timeout);

// The last `max_bytes` of a file, for failure messages.
std::string FileTail(const std::string& path, size_t max_bytes = 2000);

}  // namespace edge::test
