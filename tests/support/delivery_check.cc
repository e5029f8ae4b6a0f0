#include "tests/support/delivery_check.h"

#include <algorithm>
#include <cstdlib>

namespace edge::test {
namespace {

constexpr size_t kMaxProblems = 10;

void Note(DeliveryReport* r, const std::string& what) {
  if (r->problems.size() < kMaxProblems) r->problems.push_back(what);
}

}  // namespace

DeliveryReport CheckDeliveries(const std::string& agent_id,
                               const std::map<uint64_t, ExpectedRecord>& expected,
                               const std::vector<ConsumedMessage>& got) {
  DeliveryReport r;
  r.records = expected.size();
  r.delivered = got.size();
  const std::string prefix = agent_id + ":";
  std::map<uint64_t, uint64_t> seen;               // seq -> deliveries
  std::map<std::string, uint64_t> last_first_seq;  // route -> seq of its latest first delivery
  for (const ConsumedMessage& m : got) {
    const bool ours = m.message_id.rfind(prefix, 0) == 0 && m.message_id.size() > prefix.size();
    const uint64_t seq =
        ours ? std::strtoull(m.message_id.c_str() + prefix.size(), nullptr, 10) : 0;
    auto it = ours ? expected.find(seq) : expected.end();
    if (it == expected.end()) {
      r.unexpected++;
      Note(&r, "unexpected message_id '" + m.message_id + "'");
      continue;
    }
    if (m.body != it->second.payload || m.Header("x-edge-route") != it->second.route ||
        m.Header("x-edge-seq") != std::to_string(seq)) {
      r.corrupt++;
      Note(&r, "message " + m.message_id + " differs from the record (body, route or seq)");
    }
    if (seen[seq]++ > 0) {
      r.duplicates++;
      continue;
    }
    auto last = last_first_seq.find(it->second.route);
    if (last != last_first_seq.end() && seq < last->second) {
      r.out_of_order++;
      Note(&r, "route " + it->second.route + ": seq " + std::to_string(seq) +
                   " first arrived after seq " + std::to_string(last->second));
    }
    uint64_t& latest = last_first_seq[it->second.route];
    latest = std::max(latest, seq);
  }
  for (const auto& [seq, record] : expected) {
    if (seen.count(seq) != 0) continue;
    r.lost++;
    Note(&r, "durable record seq " + std::to_string(seq) + " (route " + record.route +
                 ") never arrived");
  }
  return r;
}

}  // namespace edge::test
