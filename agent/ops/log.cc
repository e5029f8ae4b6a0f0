#include "agent/ops/log.h"

#include <atomic>
#include <cstdio>

namespace edge::ops {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* Name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "?";
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

bool ParseLogLevel(const std::string& name, LogLevel* out) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (name == Name(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void Log(LogLevel level, const std::string& message) {
  if (static_cast<int>(level) > g_level.load()) return;
  // "<3>edge-agent error: ..." : the sd-daemon prefix lets journald keep the level.
  std::string line = "<" + std::to_string(static_cast<int>(level)) + ">edge-agent " +
                     Name(level) + ": " + message + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace edge::ops
