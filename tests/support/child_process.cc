#include "tests/support/child_process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

namespace edge::test {

ChildProcess::~ChildProcess() {
  if (pid_ > 0) Stop(std::chrono::milliseconds(0));
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      exit_status_(other.exit_status_),
      stdin_fd_(std::exchange(other.stdin_fd_, -1)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) Stop(std::chrono::milliseconds(0));
    if (stdin_fd_ >= 0) ::close(stdin_fd_);
    pid_ = std::exchange(other.pid_, -1);
    exit_status_ = other.exit_status_;
    stdin_fd_ = std::exchange(other.stdin_fd_, -1);
  }
  return *this;
}

Status ChildProcess::Spawn(const SpawnOptions& options) {
  if (pid_ > 0) return Status::FailedPrecondition("child already running");
  if (options.argv.empty()) return Status::InvalidArgument("spawn: empty argv");

  // Everything the child needs is prepared before fork: after fork only async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  uid_t uid = 0;
  gid_t gid = 0;
  bool drop = false;
  std::vector<gid_t> groups;
  if (!options.run_as_user.empty() && ::geteuid() == 0) {
    passwd* pw = ::getpwnam(options.run_as_user.c_str());
    if (pw == nullptr) return Status::NotFound("user " + options.run_as_user + " does not exist");
    uid = pw->pw_uid;
    gid = pw->pw_gid;
    int n = 64;
    groups.resize(static_cast<size_t>(n));
    if (::getgrouplist(options.run_as_user.c_str(), gid, groups.data(), &n) < 0) n = 0;
    groups.resize(static_cast<size_t>(n));
    drop = true;
  }
  int out_fd = ::open(options.output_file.empty() ? "/dev/null" : options.output_file.c_str(),
                      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (out_fd < 0) {
    return Status::IoError("open " + options.output_file + ": " + std::strerror(errno));
  }
  if (drop) (void)!::fchown(out_fd, uid, gid);
  int in_pipe[2] = {-1, -1};
  if (options.hold_stdin_open && ::pipe2(in_pipe, O_CLOEXEC) != 0) {
    ::close(out_fd);
    return Status::IoError(std::string("pipe: ") + std::strerror(errno));
  }

  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out_fd);
    return Status::IoError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    if (options.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) _exit(126);  // the parent died before prctl took effect
    }
    ::setpgid(0, 0);
    int in_fd = in_pipe[0] >= 0 ? in_pipe[0] : ::open("/dev/null", O_RDONLY);
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(out_fd, 2);
    // The test binary may have blocked or ignored signals; the child starts clean.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!options.working_dir.empty() && ::chdir(options.working_dir.c_str()) != 0) _exit(126);
    if (drop) {
      if (::setgroups(groups.size(), groups.data()) != 0 || ::setgid(gid) != 0 ||
          ::setuid(uid) != 0) {
        _exit(125);
      }
    }
    ::execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  // Also set the group from the parent: whichever runs first, the group exists before we signal.
  ::setpgid(pid, pid);
  ::close(out_fd);
  if (in_pipe[0] >= 0) {
    ::close(in_pipe[0]);
    stdin_fd_ = in_pipe[1];
  }
  pid_ = pid;
  exit_status_ = -1;
  return Status::Ok();
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = status;
    // Leave pid_ set so the group (helpers that outlive the leader) can still be signalled.
    return false;
  }
  return exit_status_ == -1;
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(-pid_, sig);
}

bool ChildProcess::WaitForExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return true;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!running()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return;
  if (grace.count() > 0 && running()) {
    Signal(SIGTERM);
    WaitForExit(grace);
  }
  // Whatever is left in the group (the leader, or helpers that outlived it) goes now.
  Signal(SIGKILL);
  if (exit_status_ == -1) {
    int status = 0;
    if (::waitpid(pid_, &status, 0) == pid_) exit_status_ = status;
  }
  pid_ = -1;
  if (stdin_fd_ >= 0) {
    ::close(stdin_fd_);
    stdin_fd_ = -1;
  }
}

std::string FileTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(no output file " + path + ")";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  if (all.size() > max_bytes) all = "..." + all.substr(all.size() - max_bytes);
  return all;
}

Status RunToCompletion(const SpawnOptions& options, std::chrono::milliseconds timeout) {
  ChildProcess child;
  EDGE_RETURN_IF_ERROR(child.Spawn(options));
  const std::string what = options.argv[0] + (options.argv.size() > 1 ? " " + options.argv[1] : "");
  if (!child.WaitForExit(timeout)) {
    child.Stop(std::chrono::milliseconds(0));
    return Status::Timeout(what + ": did not finish within " + std::to_string(timeout.count()) +
                           " ms; output: " + FileTail(options.output_file));
  }
  int st = child.exit_status();
  child.Stop(std::chrono::milliseconds(0));  // reaps nothing more; clears the pid
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    return Status::Internal(what + ": failed (wait status " + std::to_string(st) +
                            "); output: " + FileTail(options.output_file));
  }
  return Status::Ok();
}

}  // namespace edge::test
