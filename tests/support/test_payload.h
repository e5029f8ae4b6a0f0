// Payloads that name themselves, so whoever receives one can check it without a table:
// "<tag>/<i>/" followed by n bytes derived from tag and i (binary, zero bytes included).
// A consumer recognises a torn, mixed-up or corrupted body with WellFormedPayload, and finds
// the producer's record from the tag and index.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace edge::test {

std::string Payload(const std::string& tag, uint64_t i, size_t n);

// True when body is exactly what Payload() makes for the tag and index it names.
bool WellFormedPayload(const std::string& body);

// The seq of a message_id "<agent_id>:<seq>" (0 when it has no ':').
uint64_t SeqOfMessageId(const std::string& message_id);

}  // namespace edge::test
