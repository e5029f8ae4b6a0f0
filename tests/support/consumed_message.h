// ConsumedMessage: what an integration test's consumer needs from a delivered message to check
// identity (message_id "<agent_id>:<seq>"), content and the agent's x-edge-* headers.
#pragma once

#include <amqp.h>

#include <map>
#include <string>

namespace edge::test {

struct ConsumedMessage {
  std::string message_id;
  std::string body;
  std::map<std::string, std::string> headers;  // string (and byte-array) headers only
  // The broker delivered it before to a consumer that did not acknowledge it (not a re-send
  // by the publisher, which the broker sees as a new message).
  bool redelivered = false;

  std::string Header(const std::string& key) const {
    auto it = headers.find(key);
    return it == headers.end() ? "(no header " + key + ")" : it->second;
  }
};

// Copies what the tests check out of a consumed envelope (which the caller still destroys).
ConsumedMessage FromEnvelope(const amqp_envelope_t& envelope);

}  // namespace edge::test
