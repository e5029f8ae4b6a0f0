// `edge-agent ring verify|dump|stats PATH`: field debugging of a ring file, offline and
// read-only (RingStore::OpenReadOnly never writes, so it is safe next to a running agent).
#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

#include "agent/cli/commands.h"
#include "agent/ring/ring_store.h"

namespace edge::cli {
namespace {

const char kRingUsage[] =
    "usage: edge-agent ring verify PATH\n"
    "       edge-agent ring dump [--max N] [--full] PATH\n"
    "       edge-agent ring stats PATH\n";

std::string Preview(const std::string& payload, size_t max) {
  std::string out;
  for (size_t i = 0; i < payload.size() && i < max; i++) {
    unsigned char c = static_cast<unsigned char>(payload[i]);
    if (std::isprint(c) && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (payload.size() > max) out += "...";
  return out;
}

int Stats(const ring::RingStore& store) {
  ring::RingStats s = store.stats();
  const ring::RecoveryReport& r = store.recovery();
  std::printf("path             %s\n", store.path().c_str());
  std::printf("file_bytes       %llu\n", static_cast<unsigned long long>(s.geometry.file_bytes));
  std::printf("segment_bytes    %llu\n",
              static_cast<unsigned long long>(s.geometry.segment_bytes));
  std::printf("segments         %u\n", s.geometry.segment_count);
  std::printf("max_payload      %llu\n",
              static_cast<unsigned long long>(s.geometry.max_payload_bytes()));
  std::printf("ring_id          %016llx\n", static_cast<unsigned long long>(s.geometry.ring_id));
  std::printf("epoch            %u\n", s.epoch);
  std::printf("meta_slot        %d%s\n", r.meta_slot,
              r.meta_rebuilt ? " (both damaged; head rebuilt from the records)" : "");
  std::printf("head_seq         %llu\n", static_cast<unsigned long long>(s.head.seq));
  std::printf("next_seq         %llu\n", static_cast<unsigned long long>(s.next_seq));
  std::printf("records          %llu\n", static_cast<unsigned long long>(s.next_seq - s.head.seq));
  std::printf("used_bytes       %llu\n", static_cast<unsigned long long>(s.used_bytes));
  std::printf("dropped_total    %llu\n", static_cast<unsigned long long>(s.dropped_total));
  std::printf("damaged_total    %llu\n", static_cast<unsigned long long>(s.damaged_total));
  std::printf("torn_tail        %s\n", r.torn_tail ? "yes" : "no");
  for (const ring::Gap& g : store.PendingGaps()) {
    std::printf("unreported_gap   %llu..%llu\n", static_cast<unsigned long long>(g.first_seq),
                static_cast<unsigned long long>(g.last_seq));
  }
  for (const ring::Damage& d : r.damage) {
    std::printf("damage           seqs %llu..%llu at offset %llu: %s\n",
                static_cast<unsigned long long>(d.first_seq),
                static_cast<unsigned long long>(d.last_seq),
                static_cast<unsigned long long>(d.offset), d.what.c_str());
  }
  return kExitOk;
}

int Dump(const ring::RingStore& store, uint64_t max, bool full) {
  ring::Position pos = store.head();
  uint64_t end = store.next_seq();
  uint64_t shown = 0;
  int rc = kExitOk;
  while (pos.seq < end && shown < max) {
    ring::Record rec;
    Status s = store.Read(pos, &rec);
    if (!s.ok()) {
      std::printf("%llu\tDAMAGED\t%s\n", static_cast<unsigned long long>(pos.seq),
                  s.message().c_str());
      rc = kExitProblemFound;
      if (rec.next.seq <= pos.seq) break;  // nowhere to continue from
      pos = rec.next;
      continue;
    }
    std::printf("%llu\tepoch=%u\tbytes=%zu\t%s\n", static_cast<unsigned long long>(rec.seq),
                rec.epoch, rec.payload.size(),
                Preview(rec.payload, full ? rec.payload.size() : 64).c_str());
    pos = rec.next;
    shown++;
  }
  return rc;
}

int Verify(const ring::RingStore& store) {
  std::vector<ring::Damage> damage;
  uint64_t records = 0;
  Status s = store.Verify(&damage, &records);
  ring::Position head = store.head();
  std::printf("ring %s: %llu records checked from seq %llu", store.path().c_str(),
              static_cast<unsigned long long>(records), static_cast<unsigned long long>(head.seq));
  if (store.recovery().torn_tail) std::printf(", torn tail (unsynced last batch) ignored");
  std::printf("\n");
  if (store.recovery().meta_rebuilt) {
    std::printf("DAMAGE: both meta slots failed their checks; the head was rebuilt from the "
                "oldest record on disk (the agent starts and rewrites them; acknowledged records "
                "may be sent again)\n");
  }
  for (const ring::Damage& d : damage) {
    std::printf("DAMAGE: seqs %llu..%llu at offset %llu: %s\n",
                static_cast<unsigned long long>(d.first_seq),
                static_cast<unsigned long long>(d.last_seq),
                static_cast<unsigned long long>(d.offset), d.what.c_str());
  }
  if (!s.ok() || store.recovery().meta_rebuilt) return kExitProblemFound;
  std::printf("ok\n");
  return kExitOk;
}

}  // namespace

int RingCommand(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::fputs(kRingUsage, stderr);
    return kExitUsage;
  }
  const std::string& verb = args[0];
  uint64_t max = UINT64_MAX;
  bool full = false;
  std::string path;
  for (size_t i = 1; i < args.size(); i++) {
    if (args[i] == "--max" && i + 1 < args.size()) {
      max = std::stoull(args[++i]);
    } else if (args[i] == "--full") {
      full = true;
    } else if (path.empty() && args[i].rfind("--", 0) != 0) {
      path = args[i];
    } else {
      std::fprintf(stderr, "edge-agent ring: unexpected argument '%s'\n%s", args[i].c_str(),
                   kRingUsage);
      return kExitUsage;
    }
  }
  if (path.empty() || (verb != "verify" && verb != "dump" && verb != "stats")) {
    std::fputs(kRingUsage, stderr);
    return kExitUsage;
  }
  auto store = ring::RingStore::OpenReadOnly(port::FileSystem::Posix(), path);
  if (!store.ok()) {
    std::fprintf(stderr, "edge-agent ring %s: %s\n", verb.c_str(),
                 store.status().message().c_str());
    return kExitError;
  }
  if (verb == "verify") return Verify(**store);
  if (verb == "dump") return Dump(**store, max, full);
  return Stats(**store);
}

}  // namespace edge::cli
