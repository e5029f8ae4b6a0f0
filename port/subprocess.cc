#include "port/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <set>

#include "port/unique_fd.h"

extern char** environ;

namespace edge::port {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunkBytes = 64 * 1024;
constexpr size_t kWriteChunkBytes = 64 * 1024;
// How often we look for the leader's exit while its output pipes are still open (a grandchild
// may hold them), and once they are closed (the exit is then imminent or done).
constexpr int kExitCheckOpenMs = 100;
constexpr int kExitCheckClosedMs = 10;
constexpr int kExitCodeExecFailed = 127;

std::string ErrnoText(int err) { return std::strerror(err); }

int64_t MsUntil(Clock::time_point t, Clock::time_point now) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t - now).count();
}

Status ExecErrorStatus(const std::string& program, int err) {
  const std::string what = "program '" + program + "'";
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return Status::NotFound(what + " does not exist");
    case EACCES:
    case EPERM:
      return Status::PermissionDenied(what + " is not executable (check its mode and mount)");
    case EISDIR:
      return Status::PermissionDenied(what + " is a directory");
    case ENOEXEC:
      return Status::IoError(what + " is not a valid executable (a script needs a #! line)");
    case EAGAIN:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      return Status::Unavailable(what + ": could not start: " + ErrnoText(err) + "; retry later");
    default:
      return Status::IoError(what + ": exec failed: " + ErrnoText(err));
  }
}

// The checks execve would make, done up front so the Status is specific.
Status CheckExecutable(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ExecErrorStatus(path, errno);
  if (S_ISDIR(st.st_mode)) return ExecErrorStatus(path, EISDIR);
  if (::access(path.c_str(), X_OK) != 0) return ExecErrorStatus(path, errno);
  return Status::Ok();
}

void SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Closes every descriptor >= 3 except `keep`. Runs in the forked child: async-signal-safe
// calls only. close_range (Linux 5.9) when the kernel has it, else a loop up to `max_fd`.
void CloseDescriptorsExcept(int keep, long max_fd) {
#ifdef SYS_close_range
  bool ok = true;
  if (keep > 3) ok = ::syscall(SYS_close_range, 3u, static_cast<unsigned>(keep - 1), 0u) == 0;
  if (ok && ::syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0u, 0u) == 0) return;
#endif
  for (long fd = 3; fd < max_fd; fd++) {
    if (fd != keep) ::close(static_cast<int>(fd));
  }
}

// Everything the child needs, prepared before fork: after fork only async-signal-safe calls
// are allowed (another thread may hold the malloc lock).
struct ChildPlan {
  std::string path;
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::string working_dir;
  long max_fd = 1024;
};

Result<ChildPlan> PlanChild(const SubprocessOptions& options, const std::string& path) {
  ChildPlan plan;
  plan.path = path;
  plan.working_dir = options.working_dir;
  plan.argv_storage = options.argv;
  std::set<std::string> overridden;
  for (const auto& [name, value] : options.env) {
    if (name.empty() || name.find('=') != std::string::npos ||
        name.find('\0') != std::string::npos || value.find('\0') != std::string::npos) {
      return Status::InvalidArgument("environment variable '" + name +
                                     "': the name must be non-empty without '=' and neither "
                                     "name nor value may contain a NUL byte");
    }
    overridden.insert(name);
  }
  for (char** e = environ; e != nullptr && *e != nullptr; e++) {
    std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    if (overridden.count(name) != 0) continue;
    if (!options.drop_env_prefix.empty() && name.rfind(options.drop_env_prefix, 0) == 0) continue;
    plan.env_storage.push_back(std::move(entry));
  }
  // A name given twice in options.env: the last one wins, like successive setenv calls.
  for (size_t i = 0; i < options.env.size(); i++) {
    bool later = false;
    for (size_t j = i + 1; j < options.env.size(); j++)
      later |= options.env[j].first == options.env[i].first;
    if (!later) plan.env_storage.push_back(options.env[i].first + "=" + options.env[i].second);
  }
  for (std::string& a : plan.argv_storage) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  for (std::string& e : plan.env_storage) plan.envp.push_back(e.data());
  plan.envp.push_back(nullptr);
  long max_fd = ::sysconf(_SC_OPEN_MAX);
  plan.max_fd = max_fd > 0 ? std::min(max_fd, 1L << 20) : 1024;
  return plan;
}

// The forked child. Never returns. Reports a failure before exec as an errno on `error_fd`.
[[noreturn]] void RunChild(const ChildPlan& plan, pid_t parent, int stdin_fd, int stdout_fd,
                           int stderr_fd, int error_fd) {
  auto fail = [error_fd](int err) {
    ssize_t ignored = ::write(error_fd, &err, sizeof(err));
    (void)ignored;
    ::_exit(kExitCodeExecFailed);
  };
  (void)::setpgid(0, 0);
  // Die with the worker; then re-check, in case the worker died before prctl took effect.
  (void)::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(kExitCodeExecFailed);
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) (void)::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
  // Move the three ends above 2 first: if our own 0/1/2 were closed, a pipe end may already
  // sit on 0..2, and dup2 onto itself would keep its close-on-exec flag.
  int in = ::fcntl(stdin_fd, F_DUPFD, 3);
  int out = ::fcntl(stdout_fd, F_DUPFD, 3);
  int err = ::fcntl(stderr_fd, F_DUPFD, 3);
  if (in < 0 || out < 0 || err < 0) fail(errno);
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) fail(errno);
  if (!plan.working_dir.empty() && ::chdir(plan.working_dir.c_str()) != 0) fail(errno);
  CloseDescriptorsExcept(error_fd, plan.max_fd);
  ::execve(plan.path.c_str(), plan.argv.data(), plan.envp.data());
  fail(errno);
  ::_exit(kExitCodeExecFailed);  // not reached; keeps [[noreturn]] obvious
}

// Reads what is available; false at end of stream or on error (the descriptor is done).
bool ReadAvailable(int fd, std::string* sink, size_t cap, bool keep_tail, bool* truncated) {
  char buf[kReadChunkBytes];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      if (keep_tail) {
        sink->append(buf, static_cast<size_t>(n));
        // Trim in batches so a chatty stderr costs O(bytes), not O(bytes * cap).
        if (sink->size() > 2 * cap + kReadChunkBytes) sink->erase(0, sink->size() - cap);
      } else {
        size_t room = cap > sink->size() ? cap - sink->size() : 0;
        sink->append(buf, std::min(room, static_cast<size_t>(n)));
        if (static_cast<size_t>(n) > room) *truncated = true;
      }
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

}  // namespace

Result<std::string> ResolveProgram(const std::string& program) {
  if (program.empty()) return Status::InvalidArgument("program: the path is empty");
  if (program.find('/') != std::string::npos) {
    EDGE_RETURN_IF_ERROR(CheckExecutable(program));
    return program;
  }
  const char* path_env = std::getenv("PATH");
  const std::string path_list = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  Status first_problem;
  size_t start = 0;
  for (;;) {
    size_t end = path_list.find(':', start);
    std::string dir = path_list.substr(start, end == std::string::npos ? end : end - start);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + program;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0) {
      Status s = CheckExecutable(candidate);
      if (s.ok()) return candidate;
      if (first_problem.ok()) first_problem = s;
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (!first_problem.ok()) return first_problem;
  return Status::NotFound("program '" + program + "' not found in PATH (" + path_list + ")");
}

Result<SubprocessResult> RunSubprocess(const SubprocessOptions& options,
                                       std::string_view stdin_data) {
  if (options.argv.empty()) return Status::InvalidArgument("subprocess: argv is empty");
  if (options.timeout_ms <= 0) return Status::InvalidArgument("subprocess: timeout_ms must be > 0");
  auto path = ResolveProgram(options.argv[0]);
  if (!path.ok()) return path.status();
  auto plan = PlanChild(options, *path);
  if (!plan.ok()) return plan.status();

  int sp[2], out_p[2], err_p[2], exec_p[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) {
    return ExecErrorStatus(options.argv[0], errno);
  }
  UniqueFd in_parent(sp[0]), in_child(sp[1]);
  if (::pipe2(out_p, O_CLOEXEC) != 0) return ExecErrorStatus(options.argv[0], errno);
  UniqueFd out_parent(out_p[0]), out_child(out_p[1]);
  if (::pipe2(err_p, O_CLOEXEC) != 0) return ExecErrorStatus(options.argv[0], errno);
  UniqueFd err_parent(err_p[0]), err_child(err_p[1]);
  if (::pipe2(exec_p, O_CLOEXEC) != 0) return ExecErrorStatus(options.argv[0], errno);
  UniqueFd exec_parent(exec_p[0]), exec_child(exec_p[1]);

  const Clock::time_point start = Clock::now();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return ExecErrorStatus(options.argv[0], errno);
  if (pid == 0) {
    RunChild(*plan, parent, in_child.get(), out_child.get(), err_child.get(), exec_child.get());
  }
  // Also from the parent, so the group exists before we might signal it.
  (void)::setpgid(pid, pid);
  in_child.Reset();
  out_child.Reset();
  err_child.Reset();
  exec_child.Reset();

  // exec succeeded when the close-on-exec error pipe closes without data.
  int exec_errno = 0;
  for (;;) {
    ssize_t n = ::read(exec_parent.get(), &exec_errno, sizeof(exec_errno));
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof(exec_errno))) exec_errno = 0;
    break;
  }
  if (exec_errno != 0) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return ExecErrorStatus(options.argv[0], exec_errno);
  }

  SetNonBlocking(in_parent.get());
  SetNonBlocking(out_parent.get());
  SetNonBlocking(err_parent.get());
  SubprocessResult result;
  size_t written = 0;
  if (stdin_data.empty()) in_parent.Reset();  // EOF at once

  const Clock::time_point deadline = start + std::chrono::milliseconds(options.timeout_ms);
  Clock::time_point next_tick = start + std::chrono::milliseconds(std::max(1, options.tick_ms));
  enum class KilledBy { kNobody, kTimeout, kAbort } killed_by = KilledBy::kNobody;

  for (;;) {
    // 1. Has the leader exited? WNOWAIT leaves it a zombie, which keeps its pid and process
    //    group id reserved until we have killed the rest of the group below.
    siginfo_t info;
    std::memset(&info, 0, sizeof(info));
    int w = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
    if (w == 0 && info.si_pid == pid) break;

    Clock::time_point now = Clock::now();
    if (killed_by == KilledBy::kNobody && now >= deadline) {
      (void)::kill(-pid, SIGKILL);
      killed_by = KilledBy::kTimeout;
    }
    if (options.tick && now >= next_tick) {
      if (!options.tick() && killed_by == KilledBy::kNobody) {
        (void)::kill(-pid, SIGKILL);
        killed_by = KilledBy::kAbort;
      }
      now = Clock::now();
      next_tick = now + std::chrono::milliseconds(std::max(1, options.tick_ms));
    }

    pollfd fds[3];
    nfds_t n = 0;
    int in_idx = -1, out_idx = -1, err_idx = -1;
    if (in_parent.valid()) {
      in_idx = static_cast<int>(n);
      fds[n++] = pollfd{in_parent.get(), POLLOUT, 0};
    }
    if (out_parent.valid()) {
      out_idx = static_cast<int>(n);
      fds[n++] = pollfd{out_parent.get(), POLLIN, 0};
    }
    if (err_parent.valid()) {
      err_idx = static_cast<int>(n);
      fds[n++] = pollfd{err_parent.get(), POLLIN, 0};
    }
    int64_t wait_ms =
        (out_parent.valid() || err_parent.valid()) ? kExitCheckOpenMs : kExitCheckClosedMs;
    if (killed_by == KilledBy::kNobody) wait_ms = std::min(wait_ms, MsUntil(deadline, now));
    if (options.tick) wait_ms = std::min(wait_ms, MsUntil(next_tick, now));
    wait_ms = std::max<int64_t>(0, wait_ms);
    int ready = ::poll(fds, n, static_cast<int>(wait_ms));
    if (ready < 0 && errno != EINTR) {
      // Cannot happen with valid descriptors; do not spin, the deadline still applies.
      ::usleep(10000);
      continue;
    }
    if (ready <= 0) continue;

    if (in_idx >= 0 && fds[in_idx].revents != 0) {
      while (written < stdin_data.size()) {
        size_t len = std::min(kWriteChunkBytes, stdin_data.size() - written);
        ssize_t k =
            ::send(in_parent.get(), stdin_data.data() + written, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0) {
          written += static_cast<size_t>(k);
          continue;
        }
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        result.stdin_complete = false;  // EPIPE / ECONNRESET: the program stopped reading
        written = stdin_data.size();
      }
      if (written >= stdin_data.size()) in_parent.Reset();
    }
    if (out_idx >= 0 && fds[out_idx].revents != 0 &&
        !ReadAvailable(out_parent.get(), &result.stdout_data, options.max_stdout_bytes, false,
                       &result.stdout_truncated)) {
      out_parent.Reset();
    }
    if (err_idx >= 0 && fds[err_idx].revents != 0 &&
        !ReadAvailable(err_parent.get(), &result.stderr_tail, options.max_stderr_tail_bytes, true,
                       nullptr)) {
      err_parent.Reset();
    }
  }

  // The leader has exited. What it wrote is in the pipes: take it, then clear the group (any
  // background process it left) and reap the leader.
  if (out_parent.valid()) {
    (void)ReadAvailable(out_parent.get(), &result.stdout_data, options.max_stdout_bytes, false,
                        &result.stdout_truncated);
  }
  if (err_parent.valid()) {
    (void)ReadAvailable(err_parent.get(), &result.stderr_tail, options.max_stderr_tail_bytes, true,
                        nullptr);
  }
  (void)::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (written < stdin_data.size()) result.stdin_complete = false;
  if (result.stderr_tail.size() > options.max_stderr_tail_bytes) {
    result.stderr_tail.erase(0, result.stderr_tail.size() - options.max_stderr_tail_bytes);
  }
  if (WIFEXITED(status)) {
    result.outcome = SubprocessResult::Outcome::kExited;
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
    result.outcome = killed_by == KilledBy::kTimeout ? SubprocessResult::Outcome::kTimedOut
                     : killed_by == KilledBy::kAbort ? SubprocessResult::Outcome::kAborted
                                                     : SubprocessResult::Outcome::kSignaled;
  }
  result.elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  return result;
}

}  // namespace edge::port
