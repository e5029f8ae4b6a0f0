#include "tests/support/broker_fixture.h"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "tests/support/loopback.h"

namespace edge::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kServerProgram = "/usr/lib/rabbitmq/bin/rabbitmq-server";
constexpr const char* kCtlProgram = "/usr/lib/rabbitmq/bin/rabbitmqctl";
constexpr const char* kQueuesProgram = "/usr/lib/rabbitmq/bin/rabbitmq-queues";
constexpr auto kStartTimeout = std::chrono::seconds(120);
constexpr auto kCtlTimeout = std::chrono::seconds(60);
constexpr auto kStopGrace = std::chrono::seconds(30);

std::atomic<int> g_instance{0};

std::string RandomHex(size_t bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += kDigits[v >> 4];
    out += kDigits[v & 0xf];
  }
  return out;
}

Status WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out) return Status::IoError("cannot write " + path);
  }
  if (::chmod(path.c_str(), mode) != 0) return Status::IoError("chmod " + path);
  return Status::Ok();
}

// Hands the whole tree to the node's user: the server drops to it and must read the
// certificates and keys and write its data and logs.
Status ChownTree(const std::string& dir, const std::string& user) {
  if (user.empty()) return Status::Ok();
  passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) return Status::NotFound("user " + user + " does not exist");
  std::error_code ec;
  auto chown_one = [&](const fs::path& p) {
    return ::lchown(p.c_str(), pw->pw_uid, pw->pw_gid) == 0;
  };
  if (!chown_one(dir)) return Status::IoError("chown " + dir);
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!chown_one(it->path())) return Status::IoError("chown " + it->path().string());
  }
  if (ec) return Status::IoError("walk " + dir + ": " + ec.message());
  return Status::Ok();
}

// The process group of /proc/<pid>/stat ("pid (comm) state ppid pgrp ..."), or -1.
pid_t ProcessGroupOf(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');  // comm may contain spaces and parentheses
  if (close == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close + 1));
  std::string state;
  long ppid = 0;
  long pgrp = -1;
  rest >> state >> ppid >> pgrp;
  return rest ? static_cast<pid_t>(pgrp) : -1;
}

bool EnvironContains(const std::string& pid, const std::string& entry) {
  std::ifstream in("/proc/" + pid + "/environ", std::ios::binary);
  std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return env.find(std::string(1, '\0') + entry + '\0') != std::string::npos ||
         env.rfind(entry + '\0', 0) == 0;
}

// The record a running fixture keeps in its directory so a later run can clean up after it.
constexpr const char* kOwnerFile = "/fixture-owner";

}  // namespace

void BrokerFixture::ReapStaleRuns() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
    const std::string dir = entry.path().string();
    if (entry.path().filename().string().rfind("edgetest-", 0) != 0) continue;
    std::ifstream in(dir + kOwnerFile);
    pid_t owner = 0;
    pid_t pgid = 0;
    std::string node;
    if (!(in >> owner >> pgid >> node) || owner <= 0) continue;  // not ours, or being set up
    if (::kill(owner, 0) == 0 || errno == EPERM) continue;       // its test binary still runs
    // Kill the recorded process group only after checking that it really is that node:
    // a group id can be reused once all its members are gone.
    bool verified = false;
    for (const auto& proc : fs::directory_iterator("/proc", ec)) {
      const std::string pid = proc.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      if (pgid > 0 && ProcessGroupOf(pid) == pgid &&
          EnvironContains(pid, "RABBITMQ_NODENAME=" + node)) {
        verified = true;
        break;
      }
    }
    if (verified) ::kill(-pgid, SIGKILL);
    fs::remove_all(dir, ec);
  }
}

Result<std::unique_ptr<BrokerFixture>> BrokerFixture::Start(const BrokerOptions& options) {
  auto launched = Launch(options);
  if (!launched.ok()) return launched.status();
  std::unique_ptr<BrokerFixture> broker = std::move(launched).value();
  Status s = broker->WaitUntilUp();
  if (s.ok()) s = broker->CreateUsers();
  if (!s.ok()) {
    return s.WithContext("starting test broker " + broker->node_name_ + " in " + broker->dir_);
  }
  return broker;
}

Result<std::unique_ptr<BrokerFixture>> BrokerFixture::Launch(const BrokerOptions& options) {
  ReapStaleRuns();
  std::unique_ptr<BrokerFixture> broker(new BrokerFixture());
  Status s = broker->Prepare(options);
  if (s.ok()) s = broker->SpawnServer();
  if (!s.ok()) {
    return s.WithContext("starting test broker " + broker->node_name_ + " in " + broker->dir_);
  }
  return broker;
}

BrokerFixture::~BrokerFixture() {
  Stop();
  const char* keep = std::getenv("EDGE_TEST_KEEP_BROKER_DIR");
  if (!dir_.empty() && !(keep != nullptr && std::string(keep) == "1")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

Status BrokerFixture::Prepare(const BrokerOptions& options) {
  node_name_ =
      "edgetest-" + std::to_string(::getpid()) + "-" + std::to_string(g_instance++) + "@localhost";
  char tmpl[] = "/tmp/edgetest-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return Status::IoError("mkdtemp /tmp/edgetest-XXXXXX failed");
  dir_ = tmpl;
  if (::geteuid() == 0) run_as_ = "rabbitmq";

  for (const char* sub : {"certs", "mnesia", "log", "home"}) {
    std::error_code ec;
    fs::create_directories(dir_ + "/" + sub, ec);
    if (ec) return Status::IoError("mkdir " + dir_ + "/" + sub + ": " + ec.message());
  }
  if (options.certs != nullptr) {
    // A cluster's nodes present certificates of one CA: the agent has one ca_file for all.
    std::error_code ec;
    fs::copy(options.certs->dir, dir_ + "/certs",
             fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
    if (ec) return Status::IoError("copy " + options.certs->dir + ": " + ec.message());
    certs_ = *options.certs;
    certs_.dir = dir_ + "/certs";
  } else {
    auto certs = GenerateTestCertificates(dir_ + "/certs", "edge-device-1");
    if (!certs.ok()) return certs.status();
    certs_ = *certs;
  }

  for (uint16_t* port : {&amqp_port_, &amqps_port_, &dist_port_}) {
    auto p = PickFreePort();
    if (!p.ok()) return p.status();
    *port = *p;
  }
  password_ = options.password.empty() ? RandomHex(12) : options.password;
  cookie_ = options.erlang_cookie.empty() ? RandomHex(16) : options.erlang_cookie;

  const std::string conf = "listeners.tcp.default = 127.0.0.1:" + std::to_string(amqp_port_) +
                           "\n" +
                           "listeners.ssl.default = 127.0.0.1:" + std::to_string(amqps_port_) +
                           "\n" + "ssl_options.cacertfile = " + certs_.ca() + "\n" +
                           "ssl_options.certfile = " + certs_.server_cert() + "\n" +
                           "ssl_options.keyfile = " + certs_.server_key() + "\n" +
                           "ssl_options.verify = verify_peer\n"
                           "ssl_options.fail_if_no_peer_cert = false\n"
                           "ssl_cert_login_from = common_name\n"
                           "auth_mechanisms.1 = PLAIN\n"
                           "auth_mechanisms.2 = AMQPLAIN\n"
                           "auth_mechanisms.3 = EXTERNAL\n"
                           "loopback_users = none\n"
                           "log.file.level = info\n"
                           "log.console = false\n";
  EDGE_RETURN_IF_ERROR(WriteFile(dir_ + "/rabbitmq.conf", conf, 0644));
  EDGE_RETURN_IF_ERROR(
      WriteFile(dir_ + "/enabled_plugins", "[rabbitmq_auth_mechanism_ssl].\n", 0644));
  // An empty env file so /etc/rabbitmq/rabbitmq-env.conf cannot change this node.
  EDGE_RETURN_IF_ERROR(WriteFile(dir_ + "/rabbitmq-env.conf", "", 0644));
  EDGE_RETURN_IF_ERROR(WriteFile(dir_ + "/home/.erlang.cookie", cookie_, 0400));
  // The private keys must be readable by the node's user only (chown below).
  for (const auto& f : fs::directory_iterator(dir_ + "/certs")) {
    ::chmod(f.path().c_str(), f.path().extension() == ".key" ? 0600 : 0644);
  }
  ::chmod(dir_.c_str(), 0755);
  return ChownTree(dir_, run_as_);
}

Status BrokerFixture::SpawnServer() {
  SpawnOptions o;
  o.argv = {kServerProgram};
  o.env = {
      {"PATH", "/usr/bin:/bin:/usr/sbin:/sbin"},
      {"HOME", dir_ + "/home"},  // the Erlang cookie lives here
      {"LANG", "C.UTF-8"},
      {"LC_ALL", "C.UTF-8"},
      {"RABBITMQ_NODENAME", node_name_},
      {"RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1"},
      {"RABBITMQ_NODE_PORT", std::to_string(amqp_port_)},
      {"RABBITMQ_DIST_PORT", std::to_string(dist_port_)},
      {"RABBITMQ_MNESIA_BASE", dir_ + "/mnesia"},
      {"RABBITMQ_LOG_BASE", dir_ + "/log"},
      {"RABBITMQ_CONFIG_FILE", dir_ + "/rabbitmq.conf"},
      {"RABBITMQ_ADVANCED_CONFIG_FILE", dir_ + "/advanced.config"},
      {"RABBITMQ_ENABLED_PLUGINS_FILE", dir_ + "/enabled_plugins"},
      {"RABBITMQ_CONF_ENV_FILE", dir_ + "/rabbitmq-env.conf"},
      {"RABBITMQ_PID_FILE", dir_ + "/rabbitmq.pid"},
      // Keep the distribution listener on loopback as well.
      {"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-kernel inet_dist_use_interface {127,0,0,1}"},
  };
  o.output_file = dir_ + "/log/server.out";
  o.working_dir = dir_;
  o.run_as_user = run_as_;
  EDGE_RETURN_IF_ERROR(server_.Spawn(o));
  // "<test pid> <node process group> <node name>": lets a later run stop this node if this
  // binary dies without cleaning up (ReapStaleRuns).
  return WriteFile(
      dir_ + kOwnerFile,
      std::to_string(::getpid()) + " " + std::to_string(server_.pid()) + " " + node_name_ + "\n",
      0644);
}

Status BrokerFixture::Ctl(const std::vector<std::string>& args) const {
  return RunCtl(kCtlProgram, args, dir_ + "/log/ctl.log");
}

Status BrokerFixture::QueuesCtl(const std::vector<std::string>& args) const {
  return RunCtl(kQueuesProgram, args, dir_ + "/log/ctl.log");
}

Result<std::string> BrokerFixture::CtlOutput(const std::vector<std::string>& args) const {
  static std::atomic<int> counter{0};
  const std::string file = dir_ + "/log/ctl-output-" + std::to_string(counter++) + ".txt";
  Status s = RunCtl(kCtlProgram, args, file);
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::error_code ec;
  fs::remove(file, ec);
  if (!s.ok()) return s;
  return text;
}

Status BrokerFixture::RunCtl(const char* program, const std::vector<std::string>& args,
                             const std::string& output_file) const {
  SpawnOptions o;
  o.argv = {program, "-n", node_name_};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env = {
      {"PATH", "/usr/bin:/bin:/usr/sbin:/sbin"},
      {"HOME", dir_ + "/home"},
      {"LANG", "C.UTF-8"},
      {"LC_ALL", "C.UTF-8"},
      {"RABBITMQ_CONF_ENV_FILE", dir_ + "/rabbitmq-env.conf"},
  };
  o.output_file = output_file;
  o.working_dir = dir_;
  o.run_as_user = run_as_;
  return RunToCompletion(o, kCtlTimeout);
}

Status BrokerFixture::WaitUntilUp() {
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  for (;;) {
    if (!server_.running()) {
      return Status::Unavailable(
          "node exited during start-up (wait status " + std::to_string(server_.exit_status()) +
          "); output: " + FileTail(dir_ + "/log/server.out") + "; log: " + LogTail());
    }
    // await_startup fails at once while the node is not reachable yet, so poll it.
    if (Ctl({"await_startup", "--timeout", "10"}).ok() &&
        WaitForListener(amqps_port_, std::chrono::seconds(5)) &&
        WaitForListener(amqp_port_, std::chrono::seconds(5))) {
      return Status::Ok();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Timeout("node not up after " + std::to_string(kStartTimeout.count()) +
                             " s; log: " + LogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

Status BrokerFixture::CreateUsers() {
  EDGE_RETURN_IF_ERROR(Ctl({"add_user", user_, password_}));
  EDGE_RETURN_IF_ERROR(Ctl({"set_permissions", "-p", "/", user_, ".*", ".*", ".*"}));
  // The EXTERNAL user needs no password: the certificate is the credential.
  EDGE_RETURN_IF_ERROR(Ctl({"add_user", external_user(), RandomHex(12)}));
  EDGE_RETURN_IF_ERROR(Ctl({"clear_password", external_user()}));
  return Ctl({"set_permissions", "-p", "/", external_user(), ".*", ".*", ".*"});
}

void BrokerFixture::Stop() { server_.Stop(kStopGrace); }

void BrokerFixture::KillHard() { server_.Stop(std::chrono::milliseconds(0)); }

void BrokerFixture::Signal(int sig) { server_.Signal(sig); }

Status BrokerFixture::Restart() {
  Stop();
  EDGE_RETURN_IF_ERROR(SpawnServer());
  return WaitUntilUp();
}

std::string BrokerFixture::LogTail() const {
  return FileTail(dir_ + "/log/" + node_name_ + ".log");
}

}  // namespace edge::test
