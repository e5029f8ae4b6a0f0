// RunSubprocess: runs one program to completion with bounded output and a hard deadline.
//
// Used by the worker to run a task handler: argv (no shell), the payload on stdin, extra
// environment variables, stdout captured (bounded: the RPC reply), the tail of stderr kept (for
// the dead-letter headers), and a timeout after which the handler's whole process group is
// SIGKILLed.
//
// What must stay true, whatever the program does:
//   - No deadlock. stdin, stdout and stderr are non-blocking on our side and served by one
//     poll(2) loop: a program that never reads stdin, or fills stdout before reading stdin, or
//     writes megabytes to stderr, only costs the loop some wake-ups. Output beyond the caps is
//     read and discarded, so the program never blocks on a full pipe.
//   - Bounded memory: at most max_stdout_bytes + max_stderr_tail_bytes (+ one read buffer).
//   - Nothing left behind. The program runs in its own process group (setpgid). When the
//     program exits, times out, or the caller's tick asks to abort, the whole group is
//     SIGKILLed before the leader is reaped (the zombie leader keeps the group id reserved, so
//     the kill cannot reach a recycled id). Handlers must not leave background processes.
//   - Dies with its parent: PR_SET_PDEATHSIG=SIGKILL, so a worker killed by kill -9 does not
//     leave its handler finishing a task the broker is about to hand to another worker. (The
//     signal reaches the leader only; its own children are reparented. Linux sends it when the
//     *thread* that forked exits, which is fine here: that thread waits in RunSubprocess.)
//   - A clean slate in the child: all signals unblocked and at their default action (the daemon
//     blocks SIGTERM/SIGINT/SIGHUP for its signalfd and may ignore SIGPIPE; both would otherwise
//     be inherited across exec), descriptors other than 0/1/2 closed.
//
// stdin is a Unix socketpair rather than a pipe so our writes can use MSG_NOSIGNAL: a program
// that exits without reading its input must give us EPIPE, not a process-wide SIGPIPE. To the
// program it behaves like a pipe (read, EOF after the payload).
//
// Thread-safety: RunSubprocess may be called from several threads at once (each call owns its
// descriptors). The tick callback runs on the calling thread.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "port/status.h"

namespace edge::port {

struct SubprocessOptions {
  // argv[0] is the program: a path, or a bare name looked up in PATH. No shell is involved.
  std::vector<std::string> argv;
  // Added to (and overriding) the inherited environment, in order.
  std::vector<std::pair<std::string, std::string>> env;
  // Inherited variables whose names start with this prefix are dropped ("" keeps all), so that
  // variables the child is meant to get only from `env` cannot leak in from our environment.
  std::string drop_env_prefix;
  // "" = inherit.
  std::string working_dir;

  int timeout_ms = 30000;               // > 0
  size_t max_stdout_bytes = 1 << 20;    // beyond this, stdout is read and discarded
  size_t max_stderr_tail_bytes = 4096;  // the last bytes of stderr are kept

  // Called on the calling thread at least every tick_ms while the program runs (e.g. to send
  // AMQP heartbeats). Returning false kills the group at once (outcome kAborted).
  std::function<bool()> tick;
  int tick_ms = 1000;
};

struct SubprocessResult {
  enum class Outcome {
    kExited,    // exit_code is valid
    kSignaled,  // killed by term_signal (not by us)
    kTimedOut,  // we SIGKILLed the group at the deadline
    kAborted,   // tick returned false; we SIGKILLed the group
  };
  Outcome outcome = Outcome::kExited;
  int exit_code = -1;   // kExited only
  int term_signal = 0;  // kSignaled (and SIGKILL for kTimedOut / kAborted)
  std::string stdout_data;
  bool stdout_truncated = false;  // the program wrote more than max_stdout_bytes
  std::string stderr_tail;        // the last max_stderr_tail_bytes of stderr
  bool stdin_complete = true;     // false when the program exited before reading all input
  int64_t elapsed_ms = 0;

  bool succeeded() const { return outcome == Outcome::kExited && exit_code == 0; }
};

// Runs the program and waits for it (bounded by options.timeout_ms). Errors (the program never
// ran; a result is returned for everything that happens after exec):
//   kInvalidArgument   empty argv, timeout_ms <= 0
//   kNotFound          the program does not exist (or is not in PATH)
//   kPermissionDenied  the program is not executable (or a directory)
//   kUnavailable       fork/pipe failed (out of processes or descriptors): retry later
//   kIoError           exec failed for another reason (errno text quoted)
Result<SubprocessResult> RunSubprocess(const SubprocessOptions& options,
                                       std::string_view stdin_data);

// Checks that argv[0] names an executable file (PATH lookup for bare names), with the same
// errors as RunSubprocess; returns the resolved path. For validating a config at start-up.
Result<std::string> ResolveProgram(const std::string& program);

}  // namespace edge::port
