// `edge-agent run --config FILE`: the daemon's main loop.
//
// Signals are blocked before any thread starts and read here: SIGTERM/SIGINT stop gracefully
// (drain deadline, everything unconfirmed stays in the ring), SIGHUP reloads the broker
// settings. systemd gets READY=1 once the ring is recovered and the intake listens, then
// watchdog pings from this loop, so a wedged main loop gets the agent restarted.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "agent/cli/commands.h"
#include "agent/daemon/agent_daemon.h"
#include "agent/ops/log.h"
#include "config/config.h"
#include "port/allocator.h"
#include "port/service_notify.h"
#include "port/signals.h"

namespace edge::cli {
namespace {

const char kRunUsage[] =
    "usage: edge-agent run --config FILE [--drain-ms N]\n"
    "  Runs the agent: intake socket, ring, forwarding to the broker, control socket.\n"
    "  --drain-ms N   on SIGTERM, wait up to N ms for outstanding confirms (default 20000)\n";

}  // namespace

int RunCommand(const std::vector<std::string>& args) {
  std::string config_path;
  int drain_ms = 20000;
  for (size_t i = 0; i < args.size(); i++) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config_path = args[++i];
    } else if (args[i] == "--drain-ms" && i + 1 < args.size()) {
      drain_ms = std::stoi(args[++i]);
    } else {
      std::fprintf(stderr, "edge-agent run: unexpected argument '%s'\n%s", args[i].c_str(),
                   kRunUsage);
      return kExitUsage;
    }
  }
  if (config_path.empty()) {
    std::fputs(kRunUsage, stderr);
    return kExitUsage;
  }
  port::FileSystem* fs = port::FileSystem::Posix();
  auto config = config::LoadConfig(fs, config_path);
  if (!config.ok()) {
    ops::LogError("cannot start: " + config.status().message());
    return kExitError;
  }
  // A gateway that only consumes (no routes, worker enabled) needs no ring and no intake.
  if (config->routes.empty()) return WorkCommand({"--config", config_path});
  // Before any thread exists: every thread inherits the blocked signals, and the allocator
  // settings apply to every arena (port/allocator.h: resident memory bounded by load).
  const std::string allocator = port::LimitAllocatorFootprint();
  auto signals = port::SignalWaiter::Create();
  if (!signals.ok()) {
    ops::LogError(signals.status().message());
    return kExitError;
  }
  ops::SetLogLevel(config->log.level);
  ops::LogDebug(allocator);
  port::ServiceNotifier notifier;
  auto daemon = daemon::AgentDaemon::Start(*config, fs);
  if (!daemon.ok()) {
    ops::LogError("cannot start: " + daemon.status().message());
    notifier.Status("failed: " + daemon.status().message());
    return kExitError;
  }
  notifier.Ready();
  notifier.Status("running");

  int tick_ms = 1000;
  if (notifier.watchdog_ping_interval_ms() > 0) {
    tick_ms = std::min(tick_ms, notifier.watchdog_ping_interval_ms());
  }
  for (;;) {
    port::SignalEvent ev = (*signals)->Wait(tick_ms);
    if (ev == port::SignalEvent::kStop) break;
    if (ev == port::SignalEvent::kReload) {
      notifier.Reloading();
      auto fresh = config::LoadConfig(fs, config_path);
      if (fresh.ok()) {
        ops::SetLogLevel(fresh->log.level);
        (*daemon)->Reload(*fresh);
      } else {
        ops::LogError("reload refused, keeping the running configuration: " +
                      fresh.status().message());
      }
      notifier.Ready();
    }
    (*daemon)->Tick();
    notifier.WatchdogPing();
  }
  ops::LogInfo("stopping (signal)");
  notifier.Stopping();
  Status s = (*daemon)->Stop(drain_ms);
  if (!s.ok()) {
    ops::LogError("stop: " + s.message());
    return kExitError;
  }
  return kExitOk;
}

}  // namespace edge::cli
