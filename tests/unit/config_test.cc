// The configuration layer: the examples load, every broken config gets its own clear message
// naming the field, secrets never leak into messages, and the conversions feed the components.
#include "config/config.h"

#include <cjson/cJSON.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "agent/cli/check_config_command.h"
#include "config/schema.h"
#include "port/sim_fs.h"

namespace edge::config {
namespace {

namespace fs = std::filesystem;

const char kPassword[] = "s3cr3t-Hunter2";

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteText(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  ::chmod(path.c_str(), mode);  // explicit: the umask must not decide what the test checks
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) {
    s.replace(p, from.size(), to);
  }
  return s;
}

size_t CountLines(const std::string& s) {
  return s.empty() ? 0 : 1 + static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

// A private temporary directory holding the files a config refers to: a CA file, a password
// file (0600), a client certificate and key (0600) and an executable handler.
class ConfigFiles {
 public:
  ConfigFiles() {
    std::string tmpl = (fs::temp_directory_path() / "edge-config-test-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    WriteText(Path("ca.pem"), "-----BEGIN CERTIFICATE-----\n", 0644);
    WriteText(Path("client.crt"), "-----BEGIN CERTIFICATE-----\n", 0644);
    WriteText(Path("client.key"), "-----BEGIN PRIVATE KEY-----\n", 0600);
    WriteText(Path("broker.password"), std::string(kPassword) + "\n", 0600);
    WriteText(Path("lab.password"), std::string(kPassword) + "\n", 0600);
    WriteText(Path("handle-job"), "#!/bin/sh\nexit 0\n", 0755);
    WriteText(Path("print-label"), "#!/bin/sh\nexit 0\n", 0755);
  }
  ~ConfigFiles() { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// A complete, valid config whose files live in `files`; cases patch it into broken ones.
std::string BaseConfig(const ConfigFiles& files) {
  return R"({
  "agent_id": "gw-17",
  "broker": {
    "endpoints": [{"host": "broker.example"}],
    "tls": {"ca_file": "@DIR@/ca.pem"},
    "auth": {"mechanism": "plain", "user": "gw-17", "password_file": "@DIR@/broker.password"}
  },
  "topology": {"exchanges": [{"name": "sensors", "type": "topic"}]},
  "routes": {"telemetry": {"exchange": "sensors", "routing_key": "t.room1"}}
})";
}

// Sets (or, with value "-", removes) the member at a dotted path, creating sections on the way.
std::string Patched(const std::string& json,
                    const std::vector<std::pair<std::string, std::string>>& patches) {
  cJSON* root = cJSON_Parse(json.c_str());
  for (const auto& [path, value] : patches) {
    cJSON* obj = root;
    std::string rest = path;
    for (size_t dot = rest.find('.'); dot != std::string::npos; dot = rest.find('.')) {
      std::string key = rest.substr(0, dot);
      rest = rest.substr(dot + 1);
      cJSON* next = cJSON_GetObjectItemCaseSensitive(obj, key.c_str());
      if (next == nullptr) next = cJSON_AddObjectToObject(obj, key.c_str());
      obj = next;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(obj, rest.c_str());
    if (value != "-") cJSON_AddItemToObject(obj, rest.c_str(), cJSON_Parse(value.c_str()));
  }
  char* text = cJSON_Print(root);
  std::string out = text;
  cJSON_free(text);
  cJSON_Delete(root);
  return out;
}

Result<AgentConfig> Parse(const std::string& json, bool check_files = true) {
  LoadOptions options;
  options.check_files = check_files;
  return ParseConfig(json, "/etc/edge-agent/agent.json", port::FileSystem::Posix(), options);
}

// --- The examples ----------------------------------------------------------------------------

std::vector<std::string> ExampleFiles() {
  std::vector<std::string> out;
  for (const auto& entry :
       fs::directory_iterator(std::string(EDGE_SOURCE_DIR) + "/config/examples")) {
    if (entry.path().extension() == ".json") out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ConfigExamples, EveryExampleLoadsWithoutFileChecks) {
  std::vector<std::string> examples = ExampleFiles();
  ASSERT_GE(examples.size(), 6u);
  for (const std::string& path : examples) {
    LoadOptions options;
    options.check_files = false;
    Result<AgentConfig> c = LoadConfig(port::FileSystem::Posix(), path, options);
    ASSERT_TRUE(c.ok()) << path << ":\n" << c.status().message();
    // Only the lab example is allowed to draw warnings (plaintext on purpose, and its
    // expendable drop_oldest data sends no gap report).
    if (path.find("plaintext-lab") == std::string::npos) {
      for (const std::string& w : c->warnings) ADD_FAILURE() << path << ": " << w;
    }
  }
}

// The examples name files under /etc/edge-agent and /usr/local/bin; rewritten into a temp dir
// where those files exist with the right modes, they pass the full file checks too.
TEST(ConfigExamples, EveryExampleLoadsWithItsFilesInPlace) {
  ConfigFiles files;
  for (const std::string& path : ExampleFiles()) {
    std::string json = ReadText(path);
    json = ReplaceAll(json, "/etc/edge-agent/", files.dir() + "/");
    json = ReplaceAll(json, "/usr/local/bin/", files.dir() + "/");
    Result<AgentConfig> c = ParseConfig(json, path, port::FileSystem::Posix());
    ASSERT_TRUE(c.ok()) << path << ":\n" << c.status().message();
    if (c->broker.auth.mechanism == amqp::AuthMechanism::kPlain) {
      EXPECT_EQ(c->broker.auth.password, kPassword) << path;
    }
  }
}

TEST(ConfigExamples, TheReadmeExplainsEveryExample) {
  std::string readme = ReadText(std::string(EDGE_SOURCE_DIR) + "/config/examples/README.md");
  for (const std::string& path : ExampleFiles()) {
    EXPECT_NE(readme.find(fs::path(path).filename().string()), std::string::npos) << path;
  }
}

// --- Broken configs: each gets its own message ------------------------------------------------

struct BrokenCase {
  const char* name;
  std::vector<std::pair<std::string, std::string>> patches;  // applied to BaseConfig
  const char* raw;       // used instead of patches when not null
  const char* expected;  // must appear in the message; @DIR@ is the temp dir
};

const BrokenCase kBrokenCases[] = {
    {"unknown key with a suggestion",
     {{"broker.tls.ca_file", "-"}, {"broker.tls.ca_fle", "\"@DIR@/ca.pem\""}},
     nullptr,
     "config /etc/edge-agent/agent.json: broker.tls.ca_fle: unknown field (did you mean "
     "ca_file?)"},
    {"wrong type for a size",
     {{"ring.size", "true"}},
     nullptr,
     "ring.size: expected a size like 256MiB or an integer number of bytes, got true"},
    {"bad enum lists the allowed values",
     {{"ring.full_policy", "\"drop-oldest\""}},
     nullptr,
     "ring.full_policy: must be one of \"reject\", \"drop_oldest\", got \"drop-oldest\""},
    {"missing agent_id", {{"agent_id", "-"}}, nullptr, "agent_id: missing required field"},
    {"ring size too small",
     {{"ring.size", "\"512KiB\""}},
     nullptr,
     "ring.size: must be at least 1MiB, got \"512KiB\""},
    {"decimal size unit",
     {{"ring.size", "\"256MB\""}},
     nullptr,
     "unknown unit MB; use B, KiB, MiB or GiB"},
    {"plaintext without allow_plaintext",
     {{"broker.tls", "{\"enabled\": false}"}},
     nullptr,
     "broker.tls.enabled: false also needs broker.allow_plaintext: true"},
    {"external auth without a client certificate",
     {{"broker.auth", "{\"mechanism\": \"external\"}"}},
     nullptr,
     "broker.auth.mechanism: \"external\" needs broker.tls.client_cert_file and "
     "broker.tls.client_key_file"},
    {"missing CA file",
     {{"broker.tls.ca_file", "\"@DIR@/missing.pem\""}},
     nullptr,
     "broker.tls.ca_file: @DIR@/missing.pem: No such file or directory"},
    {"missing password file",
     {{"broker.auth.password_file", "\"@DIR@/nope\""}},
     nullptr,
     "broker.auth.password_file: @DIR@/nope: No such file or directory"},
    {"invalid JSON reports the line",
     {},
     "{\n  \"agent_id\": \"gw-17\",\n  \"ring\": {\"size\": 5,},\n}",
     "/etc/edge-agent/agent.json: line 3, column 22: a comma before '}' is not allowed in JSON"},
    {"comments are not JSON",
     {},
     "{\n  // the gateway\n  \"agent_id\": \"gw-17\"\n}",
     "line 2, column 3: JSON has no comments"},
    {"top-level trailing comma",
     {},
     "{\"agent_id\": \"gw\",\n}",
     "line 2, column 1: a comma before '}' is not allowed in JSON"},
    {"gap report route that is not a route",
     {{"ring.gap_report_route", "\"gap\""}},
     nullptr,
     "ring.gap_report_route: must name a route in routes, got \"gap\" (routes: telemetry)"},
    {"endpoint host with a newline",
     {{"broker.endpoints", "[{\"host\": \"broker.example\\nport: 1\"}]"}},
     nullptr,
     "broker.endpoints[0].host: must be a host name or IP address (letters, digits, '.', '-', "
     "'_', ':'), but has a newline at character 15"},
    {"endpoint host with a scheme",
     {{"broker.endpoints", "[{\"host\": \"amqps://broker.example\"}]"}},
     nullptr,
     "broker.endpoints[0].host: must be a host name or IP address (letters, digits, '.', '-', "
     "'_', ':'), but has '/' at character 7"},
    {"server name with a space",
     {{"broker.tls.server_name", "\"broker example\""}},
     nullptr,
     "broker.tls.server_name: must be a host name or IP address (letters, digits, '.', '-', "
     "'_', ':'), but has white space at character 7"},
    {"metrics listen not loopback",
     {{"metrics.listen", "\"0.0.0.0:9469\""}},
     nullptr,
     "metrics.listen: must be a loopback address"},
    {"worker enabled without handler",
     {{"worker", "{\"enabled\": true, \"queue\": \"jobs\"}"}},
     nullptr,
     "worker.handler: required when worker.enabled is true"},
    {"worker handler not executable",
     {{"worker", "{\"enabled\": true, \"queue\": \"jobs\", \"handler\": [\"@DIR@/ca.pem\"]}"}},
     nullptr,
     "worker.handler[0]: @DIR@/ca.pem: not executable"},
    {"negative number",
     {{"broker.heartbeat_s", "-5"}},
     nullptr,
     "broker.heartbeat_s: must not be negative, got -5"},
    {"port out of range",
     {{"broker.endpoints", "[{\"host\": \"b\", \"port\": 70000}]"}},
     nullptr,
     "broker.endpoints[0].port: must be at most 65535, got 70000"},
    {"fractional integer",
     {{"broker.confirm_window", "1.5"}},
     nullptr,
     "broker.confirm_window: expected an integer, got 1.5"},
    {"duplicate route names",
     {},
     R"({"agent_id": "gw", "broker": {"endpoints": [{"host": "b"}], "tls": {"ca_file": "@DIR@/ca.pem"},
         "auth": {"user": "u", "password_file": "@DIR@/broker.password"}},
         "routes": {"t": {"exchange": "", "routing_key": "q"}, "t": {"exchange": "", "routing_key": "r"}}})",
     "routes.t: duplicate name: \"t\" is defined more than once"},
    {"bad route name",
     {{"routes", "{\"tele metry\": {\"exchange\": \"sensors\"}}"}},
     nullptr,
     "routes.tele metry: name \"tele metry\" may contain only letters, digits"},
    {"no routes and no worker",
     {{"routes", "{}"}},
     nullptr,
     "routes: at least one route is needed"},
    {"agent_id with a space",
     {{"agent_id", "\"gw 17\""}},
     nullptr,
     "agent_id: may contain only letters, digits, '.', '_' and '-', got \"gw 17\""},
    {"password written inline",
     {{"broker.auth.password", "\"hunter2-inline\""}},
     nullptr,
     "broker.auth.password: unknown field: passwords are never written in the config"},
    {"relative path",
     {{"ring.path", "\"var/ring\""}},
     nullptr,
     "ring.path: must be an absolute path (the agent runs from /), got \"var/ring\""},
    {"no endpoints",
     {{"broker.endpoints", "[]"}},
     nullptr,
     "broker.endpoints: needs at least 1 entry, got 0"},
    {"plain auth without a user",
     {{"broker.auth.user", "-"}},
     nullptr,
     "broker.auth.user: required when broker.auth.mechanism is \"plain\""},
    {"socket mode not octal",
     {{"intake.socket_mode", "\"0698\""}},
     nullptr,
     "intake.socket_mode: expected 3 or 4 octal digits like \"0660\", got \"0698\""},
    {"socket mode as a number",
     {{"intake.socket_mode", "660"}},
     nullptr,
     "intake.socket_mode: expected an octal mode string like \"0660\", got 660"},
    {"quorum queue that is not durable",
     {{"topology.queues", "[{\"name\": \"q\", \"quorum\": true, \"durable\": false}]"}},
     nullptr,
     "topology.queues[0].durable: false is impossible for a quorum queue"},
    {"back-off maximum below the initial delay",
     {{"broker.backoff_max_ms", "100"}},
     nullptr,
     "broker.backoff_max_ms: must be at least broker.backoff_initial_ms (250)"},
    {"segment size the ring cannot use",
     {{"ring.segment_bytes", "1000"}},
     nullptr,
     "ring.segment_bytes: segment size 1000 must be a multiple of 512"},
    {"default exchange without a routing key",
     {{"routes", "{\"q\": {\"exchange\": \"\"}}"}},
     nullptr,
     "routes.q.routing_key: required with the default exchange"},
    {"unknown section",
     {{"brokers", "{}"}},
     nullptr,
     "brokers: unknown field (did you mean broker?)"},
    {"the document is an array", {}, "[1, 2]", "the document must be a JSON object"},
    {"repeated key",
     {},
     R"({"agent_id": "a", "agent_id": "b", "broker": {"endpoints": [{"host": "b"}],
         "tls": {"ca_file": "@DIR@/ca.pem"},
         "auth": {"user": "u", "password_file": "@DIR@/broker.password"}},
         "routes": {"t": {"exchange": "", "routing_key": "q"}}})",
     "agent_id: appears more than once; keep one"},
};

class BrokenConfigTest : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenConfigTest, IsRefusedWithItsOwnMessageNamingTheField) {
  const BrokenCase& c = GetParam();
  ConfigFiles files;
  std::string json = c.raw != nullptr ? c.raw : Patched(BaseConfig(files), c.patches);
  json = ReplaceAll(json, "@DIR@", files.dir());
  Result<AgentConfig> r = Parse(json);
  ASSERT_FALSE(r.ok()) << c.name;
  const std::string& message = r.status().message();
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(message.find(ReplaceAll(c.expected, "@DIR@", files.dir())), std::string::npos)
      << "case: " << c.name << "\nmessage:\n"
      << message;
  // One mistake, one line: consequences of a bad field are not reported again.
  EXPECT_EQ(CountLines(message), 1u) << "case: " << c.name << "\nmessage:\n" << message;
  EXPECT_EQ(message.find(kPassword), std::string::npos) << message;
  EXPECT_EQ(message.find("hunter2-inline"), std::string::npos) << message;
}

std::string CaseName(const ::testing::TestParamInfo<BrokenCase>& info) {
  std::string name;
  bool upper = true;
  for (const char* p = info.param.name; *p != '\0'; p++) {
    if (std::isalnum(static_cast<unsigned char>(*p))) {
      name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(*p))) : *p;
      upper = false;
    } else {
      upper = true;
    }
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(EveryMistake, BrokenConfigTest, ::testing::ValuesIn(kBrokenCases),
                         CaseName);

TEST(ConfigErrors, RefusesAPasswordFileThatOtherUsersCanRead) {
  ConfigFiles files;
  WriteText(files.Path("broker.password"), std::string(kPassword) + "\n", 0644);
  Result<AgentConfig> r = Parse(ReplaceAll(BaseConfig(files), "@DIR@", files.dir()));
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("broker.auth.password_file: " + files.Path("broker.password") +
                   ": the password file is readable by other users (mode 0644)"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("chmod 600 " + files.Path("broker.password")), std::string::npos) << m;
  EXPECT_EQ(m.find(kPassword), std::string::npos) << m;
}

TEST(ConfigErrors, AcceptsAPasswordFileReadableByItsGroup) {
  ConfigFiles files;
  WriteText(files.Path("broker.password"), std::string(kPassword) + "\r\n", 0640);
  Result<AgentConfig> r = Parse(ReplaceAll(BaseConfig(files), "@DIR@", files.dir()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->broker.auth.password, kPassword);  // the trailing CRLF is not part of it
}

TEST(ConfigErrors, RefusesAClientKeyThatOtherUsersCanRead) {
  ConfigFiles files;
  ::chmod(files.Path("client.key").c_str(), 0644);
  std::string json =
      Patched(BaseConfig(files), {{"broker.tls.client_cert_file", "\"@DIR@/client.crt\""},
                                  {"broker.tls.client_key_file", "\"@DIR@/client.key\""}});
  Result<AgentConfig> r = Parse(ReplaceAll(json, "@DIR@", files.dir()));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("the private key is readable by other users"),
            std::string::npos)
      << r.status().message();
}

TEST(ConfigErrors, ReportsEveryProblemAtOnceOnePerLine) {
  ConfigFiles files;
  std::string json = Patched(BaseConfig(files), {{"agent_id", "-"},
                                                 {"ring.size", "true"},
                                                 {"log.level", "\"verbose\""},
                                                 {"metrics.listen", "\"10.0.0.1:9469\""}});
  Result<AgentConfig> r = Parse(ReplaceAll(json, "@DIR@", files.dir()));
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_EQ(CountLines(m), 4u) << m;
  for (const char* field : {"agent_id:", "ring.size:", "log.level:", "metrics.listen:"}) {
    EXPECT_NE(m.find(std::string("config /etc/edge-agent/agent.json: ") + field), std::string::npos)
        << field << "\n"
        << m;
  }
}

TEST(ConfigErrors, KeysWithControlCharactersStayOnTheirOwnLineEscaped) {
  // Found by tests/fuzz/config_fuzz: a key holding a newline split its message in two, the
  // second line looking like a message of its own (in a terminal, in the journal).
  Result<AgentConfig> r = Parse("{\"agent_id\": \"gw-1\", \"ri\\nng\": 1, \"lo\\u0007g\": 2}",
                                /*check_files=*/false);
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  const std::string prefix = "config /etc/edge-agent/agent.json: ";
  for (size_t at = 0; at < m.size();) {
    size_t end = std::min(m.find('\n', at), m.size());
    EXPECT_EQ(m.compare(at, prefix.size(), prefix), 0) << m;
    at = end + 1;
  }
  EXPECT_NE(m.find("ri\\nng: unknown field (did you mean ring?)"), std::string::npos) << m;
  EXPECT_NE(m.find("lo\\x07g: unknown field"), std::string::npos) << m;
}

TEST(ConfigErrors, ANumberBeyondEveryRangeIsReportedNotConverted) {
  // Found by tests/fuzz/config_fuzz under UBSan: 1e999 parses as infinity, and rendering it for
  // the message converted it to an integer (undefined behaviour) before checking its range.
  Result<AgentConfig> r = Parse("{\"agent_id\": \"gw-1\", \"broker\": {\"heartbeat_s\": 1e999}}",
                                /*check_files=*/false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("broker.heartbeat_s: expected an integer"), std::string::npos)
      << r.status().message();
}

TEST(ConfigErrors, NeverEchoesValuesWrittenUnderBrokerAuth) {
  ConfigFiles files;
  std::string json = Patched(BaseConfig(files), {{"broker.auth.user", "[\"hunter2-inline\"]"},
                                                 {"broker.auth.mechanism", "\"hunter2-inline\""}});
  Result<AgentConfig> r = Parse(ReplaceAll(json, "@DIR@", files.dir()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("hunter2-inline"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("broker.auth.mechanism: must be one of"), std::string::npos)
      << r.status().message();
}

TEST(ConfigErrors, AMissingConfigFileIsNotFoundAndNamesThePath) {
  Result<AgentConfig> r = LoadConfig(port::FileSystem::Posix(), "/nonexistent/agent.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("config /nonexistent/agent.json: cannot read"),
            std::string::npos);
}

TEST(ConfigErrors, AnEmptyFileSaysSo) {
  Result<AgentConfig> r = Parse("  \n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("the file is empty"), std::string::npos);
}

// --- Warnings, defaults, derived values -------------------------------------------------------

TEST(ConfigWarnings, RouteToAnUndeclaredExchangeIsAllowedWithAWarning) {
  ConfigFiles files;
  std::string json = Patched(BaseConfig(files), {{"routes",
                                                  "{\"x\": {\"exchange\": \"elsewhere\", "
                                                  "\"routing_key\": \"k\"}}"}});
  Result<AgentConfig> r = Parse(ReplaceAll(json, "@DIR@", files.dir()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("routes.x.exchange: exchange \"elsewhere\" is not in "
                                "topology.exchanges"),
            std::string::npos)
      << r->warnings[0];
}

TEST(ConfigWarnings, DropOldestWithoutAGapReportRouteIsAllowedWithAWarning) {
  ConfigFiles files;
  std::string json = Patched(BaseConfig(files), {{"ring.full_policy", "\"drop_oldest\""}});
  Result<AgentConfig> r = Parse(ReplaceAll(json, "@DIR@", files.dir()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_NE(r->warnings[0].find("ring.gap_report_route: is not set"), std::string::npos)
      << r->warnings[0];

  json = Patched(BaseConfig(files), {{"ring.full_policy", "\"drop_oldest\""},
                                     {"ring.gap_report_route", "\"telemetry\""}});
  r = Parse(ReplaceAll(json, "@DIR@", files.dir()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->warnings.empty());
  EXPECT_EQ(r->ring.gap_report_route, "telemetry");
}

TEST(ConfigDefaults, AMinimalConfigGetsTheTableDefaults) {
  ConfigFiles files;
  Result<AgentConfig> r = Parse(ReplaceAll(BaseConfig(files), "@DIR@", files.dir()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const AgentConfig& c = *r;
  EXPECT_TRUE(c.warnings.empty());
  EXPECT_EQ(c.ring.path, "/var/lib/edge-agent/ring");
  EXPECT_EQ(c.ring.size_bytes, 256ull << 20);
  EXPECT_EQ(c.ring.full_policy, ring::FullPolicy::kReject);
  EXPECT_EQ(c.intake.socket_path, "/run/edge-agent/intake.sock");
  EXPECT_EQ(c.intake.socket_mode, 0660u);
  EXPECT_EQ(c.control.socket_path, "/run/edge-agent/control.sock");
  EXPECT_EQ(c.dead_letter_path, "/var/lib/edge-agent/dead-letters.jsonl");
  ASSERT_EQ(c.broker.endpoints.size(), 1u);
  EXPECT_EQ(c.broker.endpoints[0].port, 5671);
  EXPECT_EQ(c.broker.endpoints[0].vhost, "/");
  EXPECT_TRUE(c.broker.tls.enabled);
  EXPECT_TRUE(c.broker.tls.verify);
  EXPECT_FALSE(c.broker.allow_plaintext);
  EXPECT_EQ(c.broker.heartbeat_s, 30);
  EXPECT_EQ(c.broker.confirm_window, 512);
  EXPECT_EQ(c.broker.declare, publish::DeclareMode::kDeclare);
  EXPECT_EQ(c.topology.exchanges[0].durable, true);
  EXPECT_EQ(c.routes.at("telemetry").content_type, "application/octet-stream");
  EXPECT_FALSE(c.worker.enabled);
  EXPECT_EQ(c.worker.retry_delays_ms, (std::vector<int64_t>{1000, 5000, 30000}));
  EXPECT_EQ(c.log.level, ops::LogLevel::kInfo);
  EXPECT_EQ(c.metrics.interval_s, 15);
}

TEST(ConfigDefaults, PlaintextEndpointsDefaultToPort5672) {
  ConfigFiles files;
  std::string json = Patched(BaseConfig(files), {{"broker.tls", "{\"enabled\": false}"},
                                                 {"broker.allow_plaintext", "true"}});
  Result<AgentConfig> r = Parse(ReplaceAll(json, "@DIR@", files.dir()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->broker.endpoints[0].port, 5672);
  ASSERT_EQ(r->warnings.size(), 1u);  // plaintext is allowed, and said out loud
  EXPECT_NE(r->warnings[0].find("unencrypted"), std::string::npos);
}

TEST(ConfigDefaults, SizesAcceptUnitsAndPlainBytes) {
  uint64_t bytes = 0;
  std::string why;
  ASSERT_TRUE(ParseSize("256MiB", &bytes, &why));
  EXPECT_EQ(bytes, 256ull << 20);
  ASSERT_TRUE(ParseSize("1 GiB", &bytes, &why));
  EXPECT_EQ(bytes, 1ull << 30);
  ASSERT_TRUE(ParseSize("1048576", &bytes, &why));
  EXPECT_EQ(bytes, 1048576u);
  EXPECT_FALSE(ParseSize("12k", &bytes, &why));
  EXPECT_FALSE(ParseSize("MiB", &bytes, &why));
  EXPECT_FALSE(ParseSize("99999999999999999999", &bytes, &why));
  EXPECT_EQ(FormatSize(256ull << 20), "256MiB");
  EXPECT_EQ(FormatSize(1000), "1000 bytes");
}

// --- The table itself -------------------------------------------------------------------------

TEST(ConfigSchema, EveryEnumChoiceHasAMapping) {
  for (const FieldSpec& f : FieldTable()) {
    if (f.type != FieldType::kEnum) continue;
    for (const std::string& choice : f.choices) {
      AgentConfig agent;
      publish::ExchangeSpec exchange;
      publish::QueueSpec queue;
      void* owner = &agent;
      if (f.path.rfind("topology.exchanges[]", 0) == 0) owner = &exchange;
      if (f.path.rfind("topology.queues[]", 0) == 0) owner = &queue;
      Value v;
      v.type = FieldType::kEnum;
      v.text = choice;
      EXPECT_TRUE(f.set(owner, v)) << f.path << " = " << choice;
    }
  }
}

TEST(ConfigSchema, EveryFieldHasADescriptionAndTheReferenceListsIt) {
  std::string reference = FieldReferenceMarkdown();
  for (const FieldSpec& f : FieldTable()) {
    EXPECT_FALSE(f.description.empty()) << f.path;
    EXPECT_NE(reference.find("`" + f.path + "`"), std::string::npos) << f.path;
    if (f.type != FieldType::kSection && f.type != FieldType::kObjectList &&
        f.type != FieldType::kObjectMap) {
      EXPECT_NE(f.set, nullptr) << f.path;
    }
  }
}

// --- Conversions ------------------------------------------------------------------------------

TEST(ConfigConversions, ProduceTheComponentsOptions) {
  ConfigFiles files;
  std::string json = Patched(
      BaseConfig(files),
      {{"ring", R"({"size": "64MiB", "full_policy": "drop_oldest", "segment_bytes": "1MiB",
                    "max_batch_records": 100, "max_batch_bytes": "256KiB"})"},
       {"broker.endpoints", R"([{"host": "a.example"}, {"host": "b.example", "port": 5999,
                                "vhost": "edge"}])"},
       {"broker.tls", R"({"ca_file": "@DIR@/ca.pem", "server_name": "rabbit.example",
                          "client_cert_file": "@DIR@/client.crt",
                          "client_key_file": "@DIR@/client.key"})"},
       {"broker.heartbeat_s", "20"},
       {"broker.connect_timeout_ms", "3000"},
       {"broker.handshake_timeout_ms", "4000"},
       {"broker.confirm_window", "64"},
       {"broker.nack_retries", "7"},
       {"broker.backoff_initial_ms", "100"},
       {"broker.backoff_max_ms", "9000"},
       {"broker.declare", "\"passive\""},
       {"topology.queues", R"([{"name": "q", "quorum": true, "delivery_limit": 3}])"},
       {"topology.bindings", R"([{"queue": "q", "exchange": "sensors", "routing_key": "t.#"}])"}});
  Result<AgentConfig> r = Parse(ReplaceAll(json, "@DIR@", files.dir()));
  ASSERT_TRUE(r.ok()) << r.status().message();

  ring::RingOptions ro = RingOptionsFrom(*r);
  EXPECT_EQ(ro.file_bytes, 64ull << 20);
  EXPECT_EQ(ro.segment_bytes, 1ull << 20);
  EXPECT_EQ(ro.full_policy, ring::FullPolicy::kDropOldest);
  EXPECT_EQ(ro.max_batch_records, 100u);
  EXPECT_EQ(ro.max_batch_bytes, 256u << 10);

  std::vector<amqp::Endpoint> eps = EndpointsFrom(*r);
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_EQ(eps[0].host, "a.example");
  EXPECT_EQ(eps[0].port, 5671);
  EXPECT_EQ(eps[1].port, 5999);
  EXPECT_EQ(eps[1].vhost, "edge");
  for (const amqp::Endpoint& e : eps) {
    EXPECT_EQ(e.security, port::TransportSecurity::kTls);
    EXPECT_EQ(e.ca_file, files.Path("ca.pem"));
    EXPECT_EQ(e.server_name, "rabbit.example");
    EXPECT_EQ(e.client_cert_file, files.Path("client.crt"));
    EXPECT_EQ(e.client_key_file, files.Path("client.key"));
    EXPECT_TRUE(e.verify_peer);
    EXPECT_EQ(e.auth, amqp::AuthMechanism::kPlain);
    EXPECT_EQ(e.user, "gw-17");
    EXPECT_EQ(e.password, kPassword);
    EXPECT_EQ(e.heartbeat_s, 20);
    EXPECT_EQ(e.connect_timeout_ms, 3000);
    EXPECT_EQ(e.handshake_timeout_ms, 4000);
    EXPECT_EQ(e.Url().find(kPassword), std::string::npos);
  }

  publish::Topology t = TopologyFrom(*r);
  EXPECT_EQ(t.mode, publish::DeclareMode::kPassive);
  ASSERT_EQ(t.exchanges.size(), 1u);
  EXPECT_EQ(t.exchanges[0].type, "topic");
  ASSERT_EQ(t.queues.size(), 1u);
  EXPECT_TRUE(t.queues[0].quorum);
  EXPECT_EQ(t.queues[0].delivery_limit, 3);
  ASSERT_EQ(t.bindings.size(), 1u);
  EXPECT_EQ(t.bindings[0].routing_key, "t.#");

  publish::PublisherOptions po = PublisherOptionsFrom(*r);
  EXPECT_EQ(po.agent_id, "gw-17");
  ASSERT_EQ(po.routes.count("telemetry"), 1u);
  EXPECT_EQ(po.routes.at("telemetry").name, "telemetry");
  EXPECT_EQ(po.routes.at("telemetry").exchange, "sensors");
  EXPECT_EQ(po.routes.at("telemetry").routing_key, "t.room1");
  EXPECT_EQ(po.confirm_window, 64u);
  EXPECT_EQ(po.nack_retries, 7);
  EXPECT_EQ(po.backoff_initial_ms, 100);
  EXPECT_EQ(po.backoff_max_ms, 9000);
}

TEST(ConfigConversions, ExternalAuthCarriesNoPasswordAndPlaintextNoTlsFiles) {
  ConfigFiles files;
  std::string json = Patched(BaseConfig(files), {{"broker.tls", "{\"enabled\": false}"},
                                                 {"broker.allow_plaintext", "true"}});
  Result<AgentConfig> r = Parse(ReplaceAll(json, "@DIR@", files.dir()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  amqp::Endpoint e = EndpointsFrom(*r)[0];
  EXPECT_EQ(e.security, port::TransportSecurity::kPlaintext);
  EXPECT_EQ(e.port, 5672);
  EXPECT_TRUE(e.ca_file.empty());

  json = Patched(BaseConfig(files), {{"broker.tls.client_cert_file", "\"@DIR@/client.crt\""},
                                     {"broker.tls.client_key_file", "\"@DIR@/client.key\""},
                                     {"broker.auth", "{\"mechanism\": \"external\"}"}});
  r = Parse(ReplaceAll(json, "@DIR@", files.dir()));
  ASSERT_TRUE(r.ok()) << r.status().message();
  e = EndpointsFrom(*r)[0];
  EXPECT_EQ(e.auth, amqp::AuthMechanism::kExternal);
  EXPECT_TRUE(e.password.empty());
  EXPECT_FALSE(e.external_identity.empty());
}

// --- Through the file-system seam, and the commands --------------------------------------------

TEST(ConfigLoad, ReadsTheFileThroughTheFileSystemSeam) {
  port::SimFileSystem sim;
  const std::string text =
      ReadText(std::string(EDGE_SOURCE_DIR) + "/config/examples/telemetry-drop-oldest.json");
  {
    auto file = sim.Create("/etc/edge-agent/agent.json");
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->WriteAt(0, text.data(), text.size()).ok());
  }
  LoadOptions options;
  options.check_files = false;
  Result<AgentConfig> r = LoadConfig(&sim, "/etc/edge-agent/agent.json", options);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->agent_id, "gw-17");
  EXPECT_EQ(r->ring.full_policy, ring::FullPolicy::kDropOldest);
  EXPECT_EQ(r->origin, "/etc/edge-agent/agent.json");
}

TEST(CheckConfigCommand, ExitsZeroForAGoodFileOneForABadOneTwoForBadUsage) {
  const std::string example = std::string(EDGE_SOURCE_DIR) + "/config/examples/jobs-reject.json";
  EXPECT_EQ(cli::CheckConfigCommand({"--skip-file-checks", example}), 0);
  // The example's /etc/edge-agent files do not exist here: the full check finds that.
  EXPECT_EQ(cli::CheckConfigCommand({example}), 1);
  EXPECT_EQ(cli::CheckConfigCommand({}), 2);
  EXPECT_EQ(cli::CheckConfigCommand({"--frobnicate", example}), 2);
  EXPECT_EQ(cli::CheckConfigCommand({example, example}), 2);
  EXPECT_EQ(cli::ConfigReferenceCommand({}), 0);
}

}  // namespace
}  // namespace edge::config
