// Fuzz target: the config loader (config/config.h ParseConfig) on arbitrary documents.
//
// Input: the JSON text itself (seeds: config/examples/*.json and tests/fuzz/corpus/config).
//
// Each document is loaded twice: without file checks (`check-config --skip-file-checks`), and
// with them against a fixed set of fake files (a FileProbe and a SimFileSystem holding a
// password file), so the file rules and the password reading are reached too. Invariants:
// - loading returns; a failure is kInvalidArgument with at least one line, and every line
//   (error or warning) names the document: "config <origin>: ...";
// - the password never shows in a message or warning: the document is loaded against two file
//   systems whose password files differ only in the password, and every message and warning
//   must be the same (a plain search would trip over documents that spell the password);
// - a config that loads converts into the components' options, and the ring geometry it
//   describes is one the ring accepts (validation and the ring agree);
// - loading is deterministic: a second load gives the same message.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "agent/ring/format.h"
#include "config/config.h"
#include "config/file_probe.h"
#include "port/sim_fs.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using edge::Code;
using edge::Result;
using edge::config::AgentConfig;
using edge::config::FileInfo;
using edge::config::LoadOptions;

constexpr char kOrigin[] = "/etc/edge-agent/agent.json";
// Same length and shape, so the two loads can only differ if the password leaks.
constexpr char kPasswordA[] = "fuzz-Secret-7c1e";
constexpr char kPasswordB[] = "fuzz-Secret-2d9f";

// The files the example configs name, plus one of each kind a rule refuses.
class FakeProbe final : public edge::config::FileProbe {
 public:
  FakeProbe() {
    files_["/etc/edge-agent/ca.pem"] = Info(0644, false);
    files_["/etc/edge-agent/client.crt"] = Info(0644, false);
    files_["/etc/edge-agent/client.key"] = Info(0600, false);
    files_["/etc/edge-agent/broker.password"] = Info(0600, false);
    files_["/etc/edge-agent/lab.password"] = Info(0640, false);
    files_["/etc/edge-agent/shared.password"] = Info(0644, false);  // readable by others
    files_["/etc/edge-agent/empty.password"] = Info(0600, false);
    files_["/usr/local/bin/print-label"] = Info(0755, true);
    files_["/usr/local/bin/not-executable"] = Info(0644, false);
    FileInfo dir;
    dir.directory = true;
    dir.mode = 0755;
    dir.readable = true;
    dir.executable = true;
    files_["/etc/edge-agent"] = dir;
  }

  Result<FileInfo> Inspect(const std::string& path) const override {
    auto it = files_.find(path);
    if (it == files_.end()) return edge::Status::NotFound("No such file or directory");
    return it->second;
  }

 private:
  static FileInfo Info(uint32_t mode, bool executable) {
    FileInfo i;
    i.regular = true;
    i.mode = mode;
    i.readable = true;
    i.executable = executable;
    return i;
  }
  std::map<std::string, FileInfo> files_;
};

void WriteFile(edge::port::SimFileSystem* fs, const std::string& path, const std::string& text) {
  auto f = fs->Create(path);
  FUZZ_CHECK(f.ok(), "SimFileSystem::Create " + path + ": " + f.status().message());
  edge::Status s = (*f)->WriteAt(0, text.data(), text.size());
  FUZZ_CHECK(s.ok(), "SimFileSystem::WriteAt " + path + ": " + s.message());
}

void CheckLines(const std::string& text, const std::string& what) {
  const std::string prefix = std::string("config ") + kOrigin + ": ";
  size_t at = 0;
  while (at <= text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + at, end - at);
    FUZZ_CHECK(line.substr(0, prefix.size()) == prefix,
               what + " line does not name the document: " + std::string(line));
    at = end + 1;
  }
}

void CheckLoaded(const AgentConfig& c) {
  for (const std::string& w : c.warnings) CheckLines(w, "warning");
  FUZZ_CHECK(c.origin == kOrigin, "origin " + c.origin);
  // What validation accepted, the ring must accept too: the daemon creates the ring from it.
  edge::ring::RingOptions ring = edge::config::RingOptionsFrom(c);
  edge::ring::Geometry geo;
  std::string why;
  FUZZ_CHECK(edge::ring::ChooseGeometry(ring.file_bytes, ring.segment_bytes, &geo, &why),
             "the config loaded but the ring refuses its geometry: " + why);
  FUZZ_CHECK(ring.max_batch_records > 0 && ring.max_batch_bytes > 0,
             "a loaded config has no batch limits");
  FUZZ_CHECK(!c.broker.endpoints.empty(), "a loaded config has no broker endpoint");
  for (const auto& e : c.broker.endpoints) {
    FUZZ_CHECK(e.port > 0 && e.port <= 65535, "endpoint port " + std::to_string(e.port));
  }
  (void)edge::config::EndpointsFrom(c);
  (void)edge::config::TopologyFrom(c);
  (void)edge::config::PublisherOptionsFrom(c);
  (void)edge::config::WorkerOptionsFrom(c);
  for (const auto& [name, route] : c.routes) {
    FUZZ_CHECK(route.name == name, "route " + name + " is named " + route.name);
  }
}

// Everything an operator sees of one load: the error message, or the warnings.
std::string Visible(const Result<AgentConfig>& r) {
  if (!r.ok()) return r.status().message();
  std::string all;
  for (const std::string& w : r->warnings) all += w + "\n";
  return all;
}

Result<AgentConfig> LoadAndCheck(std::string_view json, bool check_files,
                                 edge::port::SimFileSystem* fs, const FakeProbe* probe,
                                 const char* password) {
  LoadOptions options;
  options.check_files = check_files;
  options.probe = probe;
  Result<AgentConfig> r = edge::config::ParseConfig(json, kOrigin, fs, options);
  Result<AgentConfig> again = edge::config::ParseConfig(json, kOrigin, fs, options);
  FUZZ_CHECK(r.ok() == again.ok() && Visible(r) == Visible(again),
             "two loads of one document differ");
  if (!r.ok()) {
    FUZZ_CHECK(r.status().code() == Code::kInvalidArgument,
               "a bad config failed with code " + std::to_string(static_cast<int>(r.status().code())));
    FUZZ_CHECK(!r.status().message().empty(), "a bad config failed without a message");
    CheckLines(r.status().message(), "error");
    return r;
  }
  CheckLoaded(*r);
  if (check_files && !r->broker.auth.password.empty()) {
    FUZZ_CHECK(r->broker.auth.password == password, "read the wrong password");
  }
  return r;
}

std::unique_ptr<edge::port::SimFileSystem> FakeFiles(const char* password) {
  auto fs = std::make_unique<edge::port::SimFileSystem>(1);
  WriteFile(fs.get(), "/etc/edge-agent/broker.password", std::string(password) + "\n");
  WriteFile(fs.get(), "/etc/edge-agent/lab.password", std::string(password) + "\r\n");
  WriteFile(fs.get(), "/etc/edge-agent/shared.password", std::string(password) + "\n");
  WriteFile(fs.get(), "/etc/edge-agent/empty.password", "");
  return fs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // LoadConfig refuses files over 1 MiB before parsing; the fuzzer's inputs are far smaller.
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  static const FakeProbe probe;
  static const std::unique_ptr<edge::port::SimFileSystem> fs_a = FakeFiles(kPasswordA);
  static const std::unique_ptr<edge::port::SimFileSystem> fs_b = FakeFiles(kPasswordB);
  (void)LoadAndCheck(json, /*check_files=*/false, fs_a.get(), &probe, kPasswordA);
  Result<AgentConfig> a = LoadAndCheck(json, /*check_files=*/true, fs_a.get(), &probe, kPasswordA);
  Result<AgentConfig> b = LoadAndCheck(json, /*check_files=*/true, fs_b.get(), &probe, kPasswordB);
  FUZZ_CHECK(a.ok() == b.ok() && Visible(a) == Visible(b),
             "what the operator sees depends on the password:\n" + Visible(a) + "\nversus\n" +
                 Visible(b));
  return 0;
}
