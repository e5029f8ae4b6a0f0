// `edge-agent dead-letters list FILE` and `edge-agent dead-letters requeue`: the dead-letter
// file (agent/publish/dead_letter_file.h) read by people, and its entries put back into the
// flow once what refused them is mended (a binding added, a queue limit raised, a quorum back).
//
// Requeue, and why it cannot lose an entry:
// 1. The running agent moves its file aside over the control socket ("dead-letters
//    move-aside", agent/daemon/control_server.h): renamed to PATH.requeue-<ms> and an empty
//    file started at PATH, under the mutex every append takes, so no append can land in the
//    moved file after that. Nothing is read before the move is durable.
// 2. Each entry is handed to the agent again through the intake socket, as a producer would,
//    and counts as requeued only on a durable receipt (a new seq in the ring). Entries are
//    pipelined; an entry whose answer never came stays, like one refused.
// 3. Only then is the moved file changed: removed when every entry was requeued, else
//    rewritten (temporary file, sync, rename, directory sync) with exactly the entries that
//    were not. A crash at any point leaves every entry in the ring, in the moved file, or both
//    (a duplicate on the next run, never a loss).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "agent/cli/commands.h"
#include "agent/cli/send_command.h"
#include "agent/client/edge_agent_client.h"
#include "agent/daemon/control_server.h"
#include "agent/publish/dead_letter_file.h"
#include "config/config.h"
#include "port/file.h"

namespace edge::cli {
namespace {

constexpr char kRequeuedFromHeader[] = "edge-requeued-from";
constexpr int kDefaultTimeoutMs = 60000;
// Entries sent before their answers are read: enough to fill one ring batch of the agent.
constexpr size_t kRequeueWindow = 64;

const char kUsage[] =
    "usage: edge-agent dead-letters list FILE\n"
    "       edge-agent dead-letters requeue [--config FILE] [--control PATH] [--socket PATH]\n"
    "                                       [--file MOVED] [--route ROUTE] [--timeout-ms N]\n"
    "\n"
    "list: one line per entry of a dead-letter file (seq, time, route, reason, the broker's\n"
    "reply, payload bytes), then the count by reason. Lines torn by a power cut are skipped.\n"
    "\n"
    "requeue: hands every entry of the running agent's dead-letter file back to it, once what\n"
    "refused them is mended. The agent moves its file aside (to PATH.requeue-<ms>) and starts\n"
    "an empty one; each entry is sent again on its route (or ROUTE) with its headers, its\n"
    "payload and the header edge-requeued-from=<its old message_id>, and gets a new seq. Once\n"
    "every entry is durable in the ring again the moved file is removed. Entries the agent\n"
    "refused (unknown_route, too_large) stay in it, and so does the rest if the agent stops\n"
    "taking them (stopping, or its ring full for all of --timeout-ms): run again with\n"
    "--file MOVED. While the ring is full, requeue waits for the forwarder to make room.\n"
    "  --config FILE    take both sockets from the agent's config\n"
    "  --control PATH   the control socket (default /run/edge-agent/control.sock)\n"
    "  --socket PATH    the intake socket (default /run/edge-agent/intake.sock)\n"
    "  --file MOVED     requeue a file moved aside before, instead of moving the agent's\n"
    "  --route ROUTE    send every entry on ROUTE instead of its own\n"
    "  --timeout-ms N   how long to wait for each answer of the agent, and for room in\n"
    "                   its ring (default 60000)\n"
    "\n"
    "exit codes: 0 every entry requeued (or there were none), 1 entries kept (see above),\n"
    "2 usage error, 3 could not do it (file unreadable, agent not reachable).\n";

int Usage(const std::string& problem) {
  std::fprintf(stderr, "edge-agent dead-letters: %s\n\n%s", problem.c_str(), kUsage);
  return kExitUsage;
}

std::string UtcTime(uint64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  char buf[32];
  if (gmtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof(buf), "%FT%TZ", &tm) == 0) {
    return std::to_string(ms);
  }
  return buf;
}

int List(const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("list takes one FILE");
  auto entries = publish::DeadLetterFile::ReadAll(port::FileSystem::Posix(), args[0]);
  if (!entries.ok()) {
    std::fprintf(stderr, "edge-agent dead-letters: %s\n", entries.status().message().c_str());
    return kExitError;
  }
  std::map<std::string, uint64_t> by_reason;
  std::printf("message_id\ttime\troute\treason\treply\tbytes\n");
  for (const publish::DeadLetter& e : *entries) {
    std::printf("%s:%llu\t%s\t%s\t%s\t%u %s\t%zu\n", e.agent_id.c_str(),
                static_cast<unsigned long long>(e.seq), UtcTime(e.time_ms).c_str(), e.route.c_str(),
                e.reason.c_str(), e.reply_code, e.reply_text.c_str(), e.payload.size());
    by_reason[e.reason]++;
  }
  std::string counts;
  for (const auto& [reason, n] : by_reason) {
    counts += (counts.empty() ? ": " : ", ") + reason + " " + std::to_string(n);
  }
  std::printf("%zu entr%s%s\n", entries->size(), entries->size() == 1 ? "y" : "ies",
              counts.c_str());
  return kExitOk;
}

struct RequeueArgs {
  std::string control = "/run/edge-agent/control.sock";
  std::string intake = "/run/edge-agent/intake.sock";
  std::string file;   // --file: a moved file; empty: ask the agent to move its own
  std::string route;  // --route: overrides each entry's route
  int timeout_ms = kDefaultTimeoutMs;
};

// Returns -1 when the arguments are good, else the exit code (usage printed).
int ParseRequeue(const std::vector<std::string>& args, RequeueArgs* out) {
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    }
    if (a != "--config" && a != "--control" && a != "--socket" && a != "--file" && a != "--route" &&
        a != "--timeout-ms") {
      return Usage("unexpected argument '" + a + "'");
    }
    if (i + 1 >= args.size() || args[i + 1].empty()) return Usage(a + " needs a value");
    const std::string& v = args[++i];
    if (a == "--config") {
      config::LoadOptions lo;
      lo.check_files = false;
      auto c = config::LoadConfig(port::FileSystem::Posix(), v, lo);
      if (!c.ok()) {
        std::fprintf(stderr, "edge-agent dead-letters: %s\n", c.status().message().c_str());
        return kExitError;
      }
      out->control = c->control.socket_path;
      out->intake = c->intake.socket_path;
    } else if (a == "--control") {
      out->control = v;
    } else if (a == "--socket") {
      out->intake = v;
    } else if (a == "--file") {
      out->file = v;
    } else if (a == "--route") {
      out->route = v;
    } else {
      char* end = nullptr;
      errno = 0;
      long ms = std::strtol(v.c_str(), &end, 10);
      if (errno != 0 || *end != '\0' || ms <= 0 || ms > 24L * 3600 * 1000) {
        return Usage("--timeout-ms expects a whole number of milliseconds, 1..86400000");
      }
      out->timeout_ms = static_cast<int>(ms);
    }
  }
  return -1;
}

// Replaces path with exactly the entries given, or removes it when there are none; durable
// (the directory synced) before it returns.
Status ReplaceMovedFile(const std::string& path, const std::vector<publish::DeadLetter>& keep) {
  port::FileSystem* fs = port::FileSystem::Posix();
  if (keep.empty()) {
    EDGE_RETURN_IF_ERROR(fs->Remove(path));
    return fs->SyncDir(port::DirName(path));
  }
  const std::string tmp = path + ".tmp";
  EDGE_RETURN_IF_ERROR(fs->Remove(tmp));
  {
    auto out = publish::DeadLetterFile::Open(fs, tmp);
    if (!out.ok()) return out.status();
    for (const publish::DeadLetter& e : keep) EDGE_RETURN_IF_ERROR((*out)->Append(e));
  }
  EDGE_RETURN_IF_ERROR(fs->Rename(tmp, path));
  return fs->SyncDir(port::DirName(path));
}

int Requeue(const std::vector<std::string>& args) {
  RequeueArgs a;
  int rc = ParseRequeue(args, &a);
  if (rc >= 0) return rc;

  std::string moved = a.file;
  if (moved.empty()) {
    auto answer = daemon::QueryControl(a.control, "dead-letters move-aside", a.timeout_ms);
    if (!answer.ok()) {
      std::fprintf(stderr, "edge-agent dead-letters: %s\n", answer.status().message().c_str());
      return kExitError;
    }
    if (*answer == "empty\n") {
      std::printf("the dead-letter file is empty: nothing to requeue\n");
      return kExitOk;
    }
    if (answer->rfind("moved ", 0) != 0 || answer->back() != '\n') {
      std::fprintf(stderr, "edge-agent dead-letters: the agent could not move its file aside: %s",
                   answer->c_str());
      return kExitError;
    }
    moved = answer->substr(6, answer->size() - 7);
    std::printf("moved the dead-letter file aside to %s\n", moved.c_str());
  }
  auto entries = publish::DeadLetterFile::ReadAll(port::FileSystem::Posix(), moved);
  if (!entries.ok()) {
    std::fprintf(stderr, "edge-agent dead-letters: %s\n", entries.status().message().c_str());
    return kExitError;
  }

  edge_agent_conn* conn = nullptr;
  rc = edge_agent_connect(a.intake.c_str(), a.timeout_ms, &conn);
  if (rc != EDGE_AGENT_OK) {
    std::fprintf(stderr,
                 "edge-agent dead-letters: cannot connect to %s: %s; nothing was requeued, the "
                 "%zu entries are in %s (run again with --file %s)\n",
                 a.intake.c_str(), ConnectFailureReason(rc).c_str(), entries->size(),
                 moved.c_str(), moved.c_str());
    return kExitError;
  }

  // Pipelined: the agent syncs its ring once for the requests that arrive together, so
  // waiting for each durable receipt before sending the next would cost one sync per entry.
  // ring_full is back-pressure, not a refusal: those entries are sent again once the forwarder
  // has made room, until the ring stays full for the whole --timeout-ms.
  using Clock = std::chrono::steady_clock;
  std::vector<bool> done(entries->size(), false);
  std::deque<size_t> to_send;
  for (size_t i = 0; i < entries->size(); i++) to_send.push_back(i);
  std::vector<size_t> full;              // answered ring_full since the last pause
  std::map<uint32_t, size_t> in_flight;  // request id -> entry
  uint64_t requeued = 0;
  size_t half_sent = entries->size();  // an entry whose send failed part-way (answered maybe)
  bool stopped = false;  // the agent stopped taking entries: keep the rest as they are
  auto progress = Clock::now();
  auto backoff = std::chrono::milliseconds(100);
  bool said_waiting = false;  // once per run: an operator sees why it pauses, not every pause
  for (;;) {
    if (!stopped && in_flight.empty() && !full.empty()) {
      // Every answer is in and some said ring_full: wait for room, then send those first.
      if (Clock::now() - progress > std::chrono::milliseconds(a.timeout_ms)) {
        std::fprintf(stderr,
                     "edge-agent dead-letters: the agent's ring stayed full for %d ms; "
                     "stopping\n",
                     a.timeout_ms);
        stopped = true;
      } else {
        if (!said_waiting) {
          std::printf("the agent's ring is full: waiting up to %d ms for its forwarder to make "
                      "room (%zu entries to go)\n",
                      a.timeout_ms, full.size() + to_send.size());
          std::fflush(stdout);
          said_waiting = true;
        }
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
        to_send.insert(to_send.begin(), full.begin(), full.end());
        full.clear();
      }
    }
    while (!stopped && full.empty() && !to_send.empty() && in_flight.size() < kRequeueWindow) {
      const size_t i = to_send.front();
      to_send.pop_front();
      const publish::DeadLetter& e = (*entries)[i];
      const std::string route = a.route.empty() ? e.route : a.route;
      const std::string from = e.message_id();
      std::vector<edge_agent_header> headers;
      for (const auto& [k, v] : e.headers) {
        if (k != kRequeuedFromHeader) headers.push_back({k.c_str(), v.c_str(), v.size()});
      }
      headers.push_back({kRequeuedFromHeader, from.c_str(), from.size()});
      uint32_t id = 0;
      rc = edge_agent_send_async(conn, route.c_str(), headers.data(), headers.size(),
                                 e.payload.data(), e.payload.size(), 0u, &id);
      if (rc == EDGE_AGENT_OK) {
        in_flight[id] = i;
      } else if (rc == EDGE_AGENT_E_INVALID) {
        // Refused by the client library before sending (a field over its limit): this entry only.
        std::fprintf(stderr, "edge-agent dead-letters: %s kept: %s\n", from.c_str(),
                     edge_agent_strerror(rc));
      } else {
        // The agent may have answered it before closing (too_large): read on to find out.
        std::fprintf(stderr, "edge-agent dead-letters: %s: %s; stopping\n", from.c_str(),
                     edge_agent_strerror(rc));
        half_sent = i;
        stopped = true;
      }
    }
    if (in_flight.empty() && half_sent == entries->size() && (stopped || full.empty())) break;
    if (in_flight.empty() && half_sent == entries->size()) continue;  // pause for ring_full
    edge_agent_result result{};
    rc = edge_agent_read_result(conn, &result);
    if (rc < 0) {
      // No answer: whatever is unanswered may be in the ring already (a duplicate if requeued
      // again, not a loss), so it stays in the moved file.
      if (!in_flight.empty()) {
        std::fprintf(stderr, "edge-agent dead-letters: no answer for %zu entries: %s (%s); %s\n",
                     in_flight.size(), edge_agent_strerror(rc), result.message,
                     stopped ? "they are kept" : "stopping");
      }
      stopped = true;
      break;
    }
    auto it = in_flight.find(result.request_id);
    size_t i = half_sent;
    if (it != in_flight.end()) {
      i = it->second;
      in_flight.erase(it);
    } else {
      half_sent = entries->size();
      if (i == entries->size()) continue;  // not one of ours: nothing to attribute it to
    }
    const std::string from = (*entries)[i].message_id();
    if (rc == EDGE_AGENT_OK) {
      done[i] = true;
      requeued++;
      progress = Clock::now();
      backoff = std::chrono::milliseconds(100);
    } else if (rc == EDGE_AGENT_RING_FULL && !stopped) {
      full.push_back(i);
    } else if (rc == EDGE_AGENT_UNKNOWN_ROUTE || rc == EDGE_AGENT_TOO_LARGE ||
               rc == EDGE_AGENT_BAD_FRAME) {
      std::fprintf(stderr, "edge-agent dead-letters: %s kept: %s: %s\n", from.c_str(),
                   edge_agent_code_name(rc), result.message);
    } else if (!stopped) {
      // shutting_down, io_error...: send no more; the answers still due are read.
      std::fprintf(stderr, "edge-agent dead-letters: %s: %s: %s; stopping\n", from.c_str(),
                   edge_agent_code_name(rc), result.message);
      stopped = true;
    }
  }
  edge_agent_close(conn);
  std::vector<publish::DeadLetter> keep;
  for (size_t i = 0; i < entries->size(); i++) {
    if (!done[i]) keep.push_back((*entries)[i]);
  }

  Status s = ReplaceMovedFile(moved, keep);
  if (!s.ok()) {
    std::fprintf(stderr,
                 "edge-agent dead-letters: %llu of %zu entries requeued, but %s could not be "
                 "updated (%s): it still holds every entry; requeueing it again sends the "
                 "requeued ones twice\n",
                 static_cast<unsigned long long>(requeued), entries->size(), moved.c_str(),
                 s.message().c_str());
    return kExitError;
  }
  if (keep.empty()) {
    std::printf("requeued %llu of %zu entries; removed %s\n",
                static_cast<unsigned long long>(requeued), entries->size(), moved.c_str());
    return kExitOk;
  }
  std::printf(
      "requeued %llu of %zu entries; %zu kept in %s (edge-agent dead-letters requeue "
      "--file %s)\n",
      static_cast<unsigned long long>(requeued), entries->size(), keep.size(), moved.c_str(),
      moved.c_str());
  return kExitProblemFound;
}

}  // namespace

int DeadLettersCommand(const std::vector<std::string>& args) {
  if (args.empty()) return Usage("list or requeue?");
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "list") return List(rest);
  if (args[0] == "requeue") return Requeue(rest);
  return Usage("unknown subcommand '" + args[0] + "'");
}

}  // namespace edge::cli
