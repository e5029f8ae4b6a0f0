// `edge-agent work --config FILE`: runs only the worker role (the consumer half of the
// work-queue pattern) from the config's `worker` section, until SIGTERM/SIGINT, which
// finishes and settles the task in hand first.
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "agent/cli/commands.h"
#include "agent/ops/log.h"
#include "agent/worker/worker.h"
#include "config/config.h"
#include "port/allocator.h"
#include "port/service_notify.h"
#include "port/signals.h"

namespace edge::cli {
namespace {

const char kWorkUsage[] =
    "usage: edge-agent work --config FILE\n"
    "  Consumes the config's worker.queue and runs worker.handler for each message:\n"
    "  ack after success, retry with back-off, dead-letter after worker.max_attempts.\n";

}  // namespace

int WorkCommand(const std::vector<std::string>& args) {
  std::string config_path;
  for (size_t i = 0; i < args.size(); i++) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config_path = args[++i];
    } else {
      std::fprintf(stderr, "edge-agent work: unexpected argument '%s'\n%s", args[i].c_str(),
                   kWorkUsage);
      return kExitUsage;
    }
  }
  if (config_path.empty()) {
    std::fputs(kWorkUsage, stderr);
    return kExitUsage;
  }
  (void)port::LimitAllocatorFootprint();  // before any thread starts (port/allocator.h)
  auto signals = port::SignalWaiter::Create();  // before any thread starts
  if (!signals.ok()) {
    ops::LogError(signals.status().message());
    return kExitError;
  }
  auto config = config::LoadConfig(port::FileSystem::Posix(), config_path);
  if (!config.ok()) {
    ops::LogError("cannot start: " + config.status().message());
    return kExitError;
  }
  ops::SetLogLevel(config->log.level);
  if (config->worker.queue.empty() || config->worker.handler.empty()) {
    ops::LogError("cannot start: " + config_path +
                  ": the worker section needs queue and handler (see config/examples/worker.json)");
    return kExitError;
  }
  worker::Worker w(config::WorkerOptionsFrom(*config));
  Status result;
  std::thread runner([&] { result = w.Run(); });
  port::ServiceNotifier notifier;
  notifier.Ready();
  int tick_ms = notifier.watchdog_ping_interval_ms() > 0
                    ? std::min(1000, notifier.watchdog_ping_interval_ms())
                    : 1000;
  for (;;) {
    port::SignalEvent ev = (*signals)->Wait(tick_ms);
    if (ev == port::SignalEvent::kStop) break;
    notifier.WatchdogPing();
  }
  ops::LogInfo("stopping: finishing the task in hand");
  notifier.Stopping();
  w.Stop();
  runner.join();
  if (!result.ok()) {
    ops::LogError("worker: " + result.message());
    return kExitError;
  }
  return kExitOk;
}

}  // namespace edge::cli
