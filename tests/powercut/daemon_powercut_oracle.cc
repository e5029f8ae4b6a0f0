#include "tests/powercut/daemon_powercut_oracle.h"

#include <cstdio>
#include <cstring>
#include <memory>

#include "agent/envelope/envelope.h"

namespace edge::powercut {
namespace {

uint64_t Mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string Filler(uint64_t seed, const ProducerPayloadId& id, size_t n) {
  std::string out(n, '\0');
  uint64_t h = Mix(seed ^ Mix((uint64_t{id.boot} << 48) ^ (uint64_t{id.producer} << 32) ^ id.n));
  for (size_t i = 0; i < n; i += 8) {
    h = Mix(h);
    std::memcpy(&out[i], &h, std::min<size_t>(8, n - i));
  }
  return out;
}

bool InGaps(const std::vector<ring::Gap>& gaps, uint64_t seq) {
  for (const ring::Gap& g : gaps) {
    if (g.first_seq <= seq && seq <= g.last_seq) return true;
  }
  return false;
}

// The seq of a message id "<agent_id>:<seq>"; 0 when it is not one of this agent's.
uint64_t SeqOfMessageId(const std::string& agent_id, const std::string& message_id) {
  if (message_id.size() <= agent_id.size() + 1 ||
      message_id.compare(0, agent_id.size(), agent_id) != 0 || message_id[agent_id.size()] != ':') {
    return 0;
  }
  return std::strtoull(message_id.c_str() + agent_id.size() + 1, nullptr, 10);
}

std::string Short(const std::string& payload) {
  std::string head = payload.substr(0, payload.find('|'));
  return "\"" + (head.size() < 40 ? head : head.substr(0, 40)) + "...\" (" +
         std::to_string(payload.size()) + " bytes)";
}

}  // namespace

std::string MakeProducerPayload(uint64_t seed, const ProducerPayloadId& id, size_t size) {
  char head[64];
  std::snprintf(head, sizeof(head), "edp %u %u %u %zu|", id.boot, id.producer, id.n, size);
  return head + Filler(seed, id, size);
}

bool ParseProducerPayload(uint64_t seed, std::string_view bytes, ProducerPayloadId* id) {
  size_t bar = bytes.find('|');
  if (bar == std::string_view::npos || bar > 60) return false;
  std::string head(bytes.substr(0, bar));
  unsigned boot = 0, producer = 0, n = 0;
  size_t size = 0;
  int used = 0;
  if (std::sscanf(head.c_str(), "edp %u %u %u %zu%n", &boot, &producer, &n, &size, &used) != 4 ||
      static_cast<size_t>(used) != head.size() || bytes.size() - bar - 1 != size) {
    return false;
  }
  ProducerPayloadId got{boot, producer, n};
  if (bytes.substr(bar + 1) != Filler(seed, got, size)) return false;
  *id = got;
  return true;
}

void DurableLog::Add(uint64_t seq, std::string payload) {
  std::lock_guard<std::mutex> l(mu_);
  entries_.emplace_back(seq, std::move(payload));
}

std::vector<std::pair<uint64_t, std::string>> DurableLog::From(size_t first) const {
  std::lock_guard<std::mutex> l(mu_);
  if (first >= entries_.size()) return {};
  return {entries_.begin() + static_cast<long>(first), entries_.end()};
}

size_t DurableLog::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

bool DaemonOracle::KnownPayload(std::string_view payload, ProducerPayloadId* id) const {
  return ParseProducerPayload(seed_, payload, id);
}

const std::string* DaemonOracle::Known(uint64_t seq) const {
  auto d = durable_.find(seq);
  if (d != durable_.end()) return &d->second;
  auto b = at_broker_.find(seq);
  return b != at_broker_.end() ? &b->second : nullptr;
}

void DaemonOracle::LearnDurable(uint64_t seq, const std::string& payload,
                                const std::string& context, Findings* findings) {
  ProducerPayloadId id;
  if (seq == 0 || !KnownPayload(payload, &id)) {
    findings->Add(
        &Findings::corrupt, context,
        "a producer was told seq " + std::to_string(seq) + " for a payload it did not send");
    return;
  }
  const std::string* known = Known(seq);
  if (known != nullptr && *known != payload) {
    findings->Add(&Findings::reused_seq, context,
                  "seq " + std::to_string(seq) + " was answered durable for " + Short(payload) +
                      " but already names " + Short(*known));
    return;
  }
  durable_[seq] = payload;
  if (at_broker_.count(seq) == 0) outstanding_.insert(seq);
  max_seq_ = std::max(max_seq_, seq);
}

void DaemonOracle::LearnAtBroker(const test::FakeMessage& message, const std::string& context,
                                 Findings* findings) {
  const uint64_t seq = SeqOfMessageId(layout_.agent_id, message.meta.message_id);
  ProducerPayloadId id;
  if (seq == 0 || !KnownPayload(message.body, &id)) {
    findings->Add(&Findings::corrupt, context,
                  "the broker got message '" + message.meta.message_id + "' with " +
                      Short(message.body) + ": not a payload a producer sent under this agent");
    return;
  }
  const std::string* known = Known(seq);
  if (known != nullptr && *known != message.body) {
    findings->Add(&Findings::reused_seq, context,
                  "the broker got seq " + std::to_string(seq) + " with " + Short(message.body) +
                      ", but that seq already names " + Short(*known));
    return;
  }
  at_broker_[seq] = message.body;
  outstanding_.erase(seq);
  max_seq_ = std::max(max_seq_, seq);
}

const std::map<uint64_t, std::string>& DaemonOracle::DeadLettered(
    port::SimFileSystem* image) const {
  std::string bytes;
  auto file = image->Open(layout_.dead_letter_path, port::Access::kReadOnly);
  if (file.ok()) {
    auto size = (*file)->Size();
    if (size.ok()) {
      bytes.resize(*size);
      if (!(*file)->ReadAt(0, bytes.data(), bytes.size()).ok()) bytes.clear();
    }
  }
  if (bytes != dead_letter_bytes_ || dead_lettered_.empty()) {
    dead_lettered_.clear();
    for (publish::DeadLetter& e : publish::DeadLetterFile::Parse(bytes)) {
      dead_lettered_[e.seq] = std::move(e.payload);
    }
    dead_letter_bytes_ = std::move(bytes);
  }
  return dead_lettered_;
}

void DaemonOracle::CheckImage(port::SimFileSystem* image, const std::string& context,
                              Findings* findings) const {
  auto opened = ring::RingStore::Open(image, layout_.ring_path, layout_.ring_options);
  if (!opened.ok()) {
    findings->Add(&Findings::corrupt, context,
                  "the ring does not open after the power cut: " + opened.status().ToString());
    return;
  }
  ring::RingStore& store = **opened;
  if (!store.recovery().damage.empty()) {
    findings->Add(&Findings::corrupt, context,
                  "recovery reported damage after a power cut (none was injected): " +
                      store.recovery().Summary());
  }

  // Walk the recovered ring: every record an envelope around a payload a producer sent, never
  // a later boot's payload followed by an earlier boot's, never contradicting a known seq.
  std::set<uint64_t> in_ring;
  uint32_t latest_boot = 0;
  ring::Position pos = store.head();
  const uint64_t end = store.next_seq();
  while (pos.seq < end) {
    ring::Record rec;
    Status s = store.Read(pos, &rec);
    if (!s.ok()) {
      findings->Add(
          &Findings::corrupt, context,
          "reading recovered seq " + std::to_string(pos.seq) + " failed: " + s.ToString());
      break;
    }
    envelope::Envelope env;
    ProducerPayloadId id;
    Status ds = envelope::Decode(rec.payload, &env);
    if (!ds.ok() || layout_.routes.count(env.route) == 0 || !KnownPayload(env.payload, &id)) {
      findings->Add(
          &Findings::corrupt, context,
          "recovered seq " + std::to_string(rec.seq) +
              " is not an envelope of a configured route around a payload a producer "
              "sent (" +
              (ds.ok() ? "route '" + env.route + "', " + Short(env.payload) : ds.ToString()) + ")");
    } else {
      if (id.boot < latest_boot) {
        findings->Add(&Findings::corrupt, context,
                      "recovered seq " + std::to_string(rec.seq) +
                          " holds a payload sent to boot " + std::to_string(id.boot) +
                          " after a record of boot " + std::to_string(latest_boot) +
                          " (stale bytes of a crashed boot)");
      }
      latest_boot = std::max(latest_boot, id.boot);
      const std::string* known = Known(rec.seq);
      if (known != nullptr && *known != env.payload) {
        findings->Add(&Findings::reused_seq, context,
                      "recovered seq " + std::to_string(rec.seq) + " holds " + Short(env.payload) +
                          " but that seq was given to " + Short(*known));
      }
    }
    in_ring.insert(rec.seq);
    pos = rec.next;
  }

  // Every durable fact not at the broker: in the ring, dead-lettered, or dropped and reported.
  const std::vector<ring::Gap> gaps = store.PendingGaps();
  const std::map<uint64_t, std::string>* dead_lettered = nullptr;
  for (uint64_t seq : outstanding_) {
    if (in_ring.count(seq) != 0) continue;
    if (dead_lettered == nullptr) dead_lettered = &DeadLettered(image);
    auto dl = dead_lettered->find(seq);
    if (dl != dead_lettered->end() && dl->second == durable_.at(seq)) continue;
    if (layout_.drops_allowed() && InGaps(gaps, seq)) continue;
    findings->Add(&Findings::acked_lost, context,
                  "seq " + std::to_string(seq) +
                      " was answered durable, was not at the broker, and is neither in the "
                      "recovered ring (head " +
                      std::to_string(store.head().seq) + ", next_seq " + std::to_string(end) +
                      ") nor in the dead-letter file nor a reported gap");
  }
  findings->records_checked += outstanding_.size();

  if (end <= max_seq_) {
    findings->Add(&Findings::reused_seq, context,
                  "next_seq " + std::to_string(end) + " after recovery is not above seq " +
                      std::to_string(max_seq_) + ", which a producer or the broker already has");
  }
}

void DaemonOracle::CheckDelivered(const std::vector<test::FakeMessage>& delivered,
                                  const std::vector<publish::DeadLetter>& dead_letters,
                                  const std::vector<ring::Gap>& gaps, const std::string& context,
                                  Findings* findings, uint64_t* redelivered) const {
  std::map<uint64_t, const std::string*> got;
  for (const test::FakeMessage& m : delivered) {
    const uint64_t seq = SeqOfMessageId(layout_.agent_id, m.meta.message_id);
    ProducerPayloadId id;
    if (seq == 0 || !KnownPayload(m.body, &id)) {
      findings->Add(&Findings::corrupt, context,
                    "after the restart the broker got '" + m.meta.message_id + "' with " +
                        Short(m.body) + ": not a payload a producer sent");
      continue;
    }
    const std::string* known = Known(seq);
    if (known != nullptr && *known != m.body) {
      findings->Add(&Findings::reused_seq, context,
                    "after the restart the broker got seq " + std::to_string(seq) + " with " +
                        Short(m.body) + ", but that seq was given to " + Short(*known));
    }
    if (at_broker_.count(seq) != 0) (*redelivered)++;
    got[seq] = &m.body;
  }
  std::map<uint64_t, const std::string*> dead;
  for (const publish::DeadLetter& e : dead_letters) dead[e.seq] = &e.payload;
  for (uint64_t seq : outstanding_) {
    const std::string& payload = durable_.at(seq);
    auto g = got.find(seq);
    if (g != got.end() && *g->second == payload) continue;
    auto d = dead.find(seq);
    if (d != dead.end() && *d->second == payload) continue;
    if (layout_.drops_allowed() && InGaps(gaps, seq)) continue;
    findings->Add(&Findings::acked_lost, context,
                  "seq " + std::to_string(seq) +
                      " was answered durable before the cut, was not at the broker, and the "
                      "restarted daemon neither delivered nor dead-lettered it, nor reported it "
                      "dropped");
  }
  findings->records_checked += outstanding_.size();
}

}  // namespace edge::powercut
