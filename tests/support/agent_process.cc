#include "tests/support/agent_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <thread>

#include "port/unix_socket.h"

namespace edge::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

}  // namespace

ProgramResult RunProgram(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  ProgramResult result;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    result.output = std::string("pipe2: ") + std::strerror(errno);
    return result;
  }
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  char path_env[] = "PATH=/usr/bin:/bin";
  char* envp[] = {path_env, nullptr};
  const pid_t pid = ::fork();
  if (pid < 0) {
    result.output = std::string("fork: ") + std::strerror(errno);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    return result;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(pipe_fds[1], 1);
    ::dup2(pipe_fds[1], 2);
    ::execve(argv[0], argv.data(), envp);
    _exit(127);
  }
  ::close(pipe_fds[1]);
  const auto deadline = Clock::now() + timeout;
  bool timed_out = false;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{pipe_fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      timed_out = r == 0;
      break;
    }
    ssize_t n = ::read(pipe_fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buf, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);  // by its pid: our own child
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!timed_out && WIFEXITED(st)) result.exit_code = WEXITSTATUS(st);
  if (timed_out) result.output += "\n(timed out; killed)";
  return result;
}

std::string AgentConfigJson(const AgentOptions& o, const BrokerFixture& broker) {
  std::ostringstream j;
  j << "{\n"
    << "  \"agent_id\": \"" << o.agent_id << "\",\n"
    << "  \"ring\": {\"path\": \"" << o.ring_path() << "\", \"size\": \"" << o.ring_size
    << "\", \"full_policy\": \"" << o.full_policy << "\", \"gap_report_route\": \""
    << o.gap_report_route << "\"},\n"
    << "  \"intake\": {\"socket_path\": \"" << o.intake_socket()
    << "\", \"socket_mode\": \"0660\", \"max_frame_bytes\": \"" << o.max_frame_bytes << "\"";
  if (o.max_connections > 0) j << ", \"max_connections\": " << o.max_connections;
  if (o.idle_timeout_s > 0) j << ", \"idle_timeout_s\": " << o.idle_timeout_s;
  j << "},\n"
    << "  \"control\": {\"socket_path\": \"" << o.control_socket() << "\"},\n"
    << "  \"dead_letter_path\": \"" << o.dead_letter_path() << "\",\n"
    << "  \"broker\": {\n"
    << "    \"endpoints\": [{\"host\": \"127.0.0.1\", \"port\": " << o.broker_port << "}],\n"
    << "    \"tls\": {\"enabled\": true, \"ca_file\": \"" << broker.certs().ca()
    << "\", \"server_name\": \"localhost\"},\n"
    << "    \"auth\": {\"mechanism\": \"plain\", \"user\": \"" << broker.user()
    << "\", \"password_file\": \"" << o.password_path() << "\"},\n"
    << "    \"heartbeat_s\": 5,\n"
    << "    \"connect_timeout_ms\": 3000,\n"
    << "    \"handshake_timeout_ms\": 5000,\n"
    << "    \"backoff_initial_ms\": 100,\n"
    << "    \"backoff_max_ms\": 1000,\n"
    << "    \"confirm_window\": " << o.confirm_window << "\n"
    << "  },\n"
    << "  \"topology\": {\n"
    << "    \"exchanges\": [{\"name\": \"" << o.exchange << "\", \"type\": \"direct\"}],\n"
    << "    \"queues\": [{\"name\": \"" << o.queue << "\", \"durable\": true}],\n"
    << "    \"bindings\": [{\"queue\": \"" << o.queue << "\", \"exchange\": \"" << o.exchange
    << "\", \"routing_key\": \"k\"}]\n"
    << "  },\n"
    << "  \"routes\": {\n"
    << "    \"main\": {\"exchange\": \"" << o.exchange << "\", \"routing_key\": \"k\"},\n"
    << "    \"nowhere\": {\"exchange\": \"" << o.exchange << "\", \"routing_key\": \"no-binding\"},\n"
    << "    \"gaps\": {\"exchange\": \"" << o.exchange << "\", \"routing_key\": \"k\"}\n"
    << "  },\n"
    << "  \"log\": {\"level\": \"info\"}\n"
    << "}\n";
  return j.str();
}

Status WriteFileAtomically(const std::string& path, const std::string& text, mode_t mode) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::IoError("open " + tmp + ": " + std::strerror(errno));
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool moded = ::fchmod(fd, mode) == 0;
  ::close(fd);
  if (!written || !moded) return Status::IoError("write " + tmp + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IoError("rename " + tmp + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Status WriteAgentConfig(const AgentOptions& o, const BrokerFixture& broker,
                        const std::string& password) {
  EDGE_RETURN_IF_ERROR(WriteFileAtomically(o.password_path(), password + "\n", 0600));
  return WriteFileAtomically(o.config_path(), AgentConfigJson(o, broker), 0644);
}

Status AgentProcess::Start(const std::vector<std::string>& args, const std::string& log_path) {
  if (Running()) return Status::FailedPrecondition("a daemon is already running");
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    Status s = Status::IoError("open " + log_path + ": " + std::strerror(errno));
    if (log_fd >= 0) ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    return s;
  }
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  char path_env[] = "PATH=/usr/bin:/bin";
  char* envp[] = {path_env, nullptr};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(126);  // the test binary died already
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), envp);
    _exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) return Status::Internal(std::string("fork: ") + std::strerror(errno));
  pid_ = pid;
  exited_ = false;
  status_ = 0;
  return Status::Ok();
}

bool AgentProcess::Running() {
  if (pid_ <= 0 || exited_) return false;
  int st = 0;
  if (::waitpid(pid_, &st, WNOHANG) == pid_) {
    exited_ = true;
    status_ = st;
    return false;
  }
  return true;
}

void AgentProcess::Signal(int sig) {
  if (Running()) ::kill(pid_, sig);
}

bool AgentProcess::WaitForExit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Running()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

bool AgentProcess::exited_cleanly() const {
  return exited_ && WIFEXITED(status_) && WEXITSTATUS(status_) == 0;
}

void AgentProcess::Kill() {
  if (!Running()) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  exited_ = true;
  status_ = st;
}

Status WaitForAgentReady(AgentProcess* agent, const std::string& binary, const AgentOptions& o,
                         std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (!agent->Running()) {
      return Status::Unavailable("edge-agent exited during start-up (wait status " +
                                 std::to_string(agent->wait_status()) + ")");
    }
    if (::access(o.intake_socket().c_str(), F_OK) == 0 &&
        RunProgram({binary, "status", "--json", "--socket", o.control_socket()}, 30s)
                .exit_code == 0 &&
        port::ConnectUnix(o.intake_socket(), 1000).ok()) {
      return Status::Ok();
    }
    if (Clock::now() >= deadline) return Status::Timeout("edge-agent not ready within the bound");
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace edge::test
