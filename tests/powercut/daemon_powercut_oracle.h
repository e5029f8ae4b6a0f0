// The oracle of the daemon power-cut suite (daemon_powercut_test.cc): what the producers and the
// broker had been told at a moment of a running daemon, and the check of a crash image of that
// moment against it.
//
// Facts, learned in the order they happened (the suite feeds them in at every observed I/O):
//   durable   a producer read a `durable` answer: payload P has seq S.
//   at broker the (fake) broker holds message <agent_id>:S with body P. It took it, so the
//             record is safe there whether or not its confirm reached the agent.
// Promises checked on a crash image (docs/architecture.md, promises 1 to 4):
//   - every durable fact (S, P) is still in the recovered ring as record S with P, or is at the
//     broker, or is in the dead-letter file (a returned message), or, under drop_oldest only,
//     lies in a dropped range the recovered ring reports. Anything else is `acked_lost`.
//   - every record in the recovered ring is an envelope of a configured route around a payload
//     some producer sent (payloads name themselves, see MakeProducerPayload), and records never
//     go back from a later boot's payload to an earlier boot's (a stale leftover taken for
//     data). Anything else is `corrupt`, as is a ring that does not open or reports damage.
//   - a seq never names two payloads: not two durable facts, not a fact and the broker, not
//     either of them and the recovered ring; and the recovered ring's next seq is above every
//     seq anyone was told. Anything else is `reused_seq`.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/publish/dead_letter_file.h"
#include "agent/ring/ring_store.h"
#include "port/sim_fs.h"
#include "tests/powercut/powercut_oracle.h"
#include "tests/support/fake_broker.h"

namespace edge::powercut {

// Who sent a payload: the boot of the daemon it was sent to, the producer, and its number.
struct ProducerPayloadId {
  uint32_t boot = 0;
  uint32_t producer = 0;
  uint32_t n = 0;
};

// "edp <boot> <producer> <n> <size>|" followed by bytes derived from all of them and the run's
// seed, `size` bytes in all (at least the header). The oracle keeps no copy of what was sent:
// a payload that parses and whose bytes match was sent by that producer; nothing else was.
std::string MakeProducerPayload(uint64_t seed, const ProducerPayloadId& id, size_t size);
bool ParseProducerPayload(uint64_t seed, std::string_view bytes, ProducerPayloadId* id);

// The durable answers producers read, in the order they read them. Thread-safe: producer
// threads append, the observer reads what is new.
class DurableLog {
 public:
  // Call only after the answer arrived (never before: the fact must not run ahead of the disk).
  void Add(uint64_t seq, std::string payload);
  // Entries [first, end) and the new end.
  std::vector<std::pair<uint64_t, std::string>> From(size_t first) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<uint64_t, std::string>> entries_;  // guarded by mu_
};

// Where the daemon keeps its files, and what it is configured with, for checking images.
struct DaemonLayout {
  std::string agent_id;
  std::string ring_path;
  std::string dead_letter_path;
  ring::RingOptions ring_options;
  std::set<std::string> routes;

  bool drops_allowed() const { return ring_options.full_policy == ring::FullPolicy::kDropOldest; }
};

class DaemonOracle {
 public:
  DaemonOracle(uint64_t seed, DaemonLayout layout) : seed_(seed), layout_(std::move(layout)) {}

  const DaemonLayout& layout() const { return layout_; }
  uint64_t seed() const { return seed_; }

  // A producer read `durable` with seq for payload. A second payload for a seq is a finding.
  void LearnDurable(uint64_t seq, const std::string& payload, const std::string& context,
                    Findings* findings);
  // The broker holds this message. A body that contradicts what is known for its seq, or an id
  // that is not <agent_id>:<seq>, is a finding.
  void LearnAtBroker(const test::FakeMessage& message, const std::string& context,
                     Findings* findings);

  // Checks a crash image whose power cut already happened: opens the ring as the daemon does
  // (recovery, a new epoch), walks it, and checks every promise above.
  void CheckImage(port::SimFileSystem* image, const std::string& context, Findings* findings) const;

  // After the whole daemon ran on a crash image until the broker had everything: every durable
  // fact not at the broker before the cut must have reached `delivered` (the broker of the new
  // boot), or the dead-letter file, or a reported dropped range (`gaps`); and every delivered
  // message must agree with what is known. *redelivered counts messages that were already at
  // the broker before the cut (re-sends after the restart: allowed duplicates).
  void CheckDelivered(const std::vector<test::FakeMessage>& delivered,
                      const std::vector<publish::DeadLetter>& dead_letters,
                      const std::vector<ring::Gap>& gaps, const std::string& context,
                      Findings* findings, uint64_t* redelivered) const;

  // The highest seq anyone was told (0: none).
  uint64_t max_seq() const { return max_seq_; }
  // Durable facts whose record is not at the broker (what the ring must still hold).
  size_t outstanding() const { return outstanding_.size(); }
  uint64_t durable_facts() const { return durable_.size(); }

 private:
  // The payload a record or message carries, checked to be one a producer sent.
  bool KnownPayload(std::string_view payload, ProducerPayloadId* id) const;
  // What is known for seq: the durable payload or the broker's body; nullptr when nothing.
  const std::string* Known(uint64_t seq) const;
  // The dead-letter file of an image, seq -> payload. Images of one moment mostly share it, so
  // the last parse is kept (parsing every image's file was a fifth of the suite's CPU).
  const std::map<uint64_t, std::string>& DeadLettered(port::SimFileSystem* image) const;

  uint64_t seed_;
  DaemonLayout layout_;
  std::map<uint64_t, std::string> durable_;    // seq -> payload, from durable answers
  std::map<uint64_t, std::string> at_broker_;  // seq -> body, messages the broker holds
  std::set<uint64_t> outstanding_;             // durable seqs not (yet) at the broker
  uint64_t max_seq_ = 0;
  mutable std::string dead_letter_bytes_;                  // the file last parsed
  mutable std::map<uint64_t, std::string> dead_lettered_;  // what it holds
};

}  // namespace edge::powercut
