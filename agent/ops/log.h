// Logging to stderr (journald adds the time and keeps the level from the "<N>" prefix).
//
// One line per event, decided where the error is handled, never at every level it passes
// through. Never log secrets or payloads. Thread-safe: each line is written with one call.
#pragma once

#include <string>

namespace edge::ops {

enum class LogLevel { kDebug = 7, kInfo = 6, kWarning = 4, kError = 3 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// Parses "debug", "info", "warning", "error".
bool ParseLogLevel(const std::string& name, LogLevel* out);

void Log(LogLevel level, const std::string& message);
inline void LogInfo(const std::string& m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(const std::string& m) { Log(LogLevel::kWarning, m); }
inline void LogError(const std::string& m) { Log(LogLevel::kError, m); }
inline void LogDebug(const std::string& m) { Log(LogLevel::kDebug, m); }

}  // namespace edge::ops
