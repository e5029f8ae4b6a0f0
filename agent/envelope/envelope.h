// Envelope: what one ring record holds. The intake writes it, the publisher reads it; the ring
// itself treats it as opaque bytes.
//
// Layout (version 1; integers little-endian, no padding):
//    0  1  version (kEnvelopeVersion)
//    1  1  flags, zero (reserved)
//    2  2  route name length R (1..kMaxRouteBytes)
//    4  8  accepted_at: Unix time in milliseconds when the intake accepted the payload
//   12  1  content type length C (0..255; 0 = the route's default)
//   13  2  header count H (0..kMaxHeaders)
//   15  R  route name
//       C  content type
//       H times: u16 key length K (1..255), K bytes key, u32 value length V, V bytes value
//       the rest of the record: the payload, binary-safe
//
// Headers are the producer's: the publisher sends them as AMQP string headers next to its own
// x-edge-* headers, which producers may not set.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "port/status.h"

namespace edge::envelope {

constexpr uint8_t kEnvelopeVersion = 1;
constexpr size_t kMaxRouteBytes = 255;
constexpr size_t kMaxHeaders = 64;
constexpr size_t kMaxHeaderKeyBytes = 255;
constexpr size_t kMaxHeaderValueBytes = 64 * 1024;
constexpr size_t kFixedBytes = 15;

struct Envelope {
  std::string route;
  uint64_t accepted_at_ms = 0;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload;
};

// Checks the limits above; kInvalidArgument naming what is wrong.
Status Validate(const Envelope& e);
// Encodes e (call Validate first; Encode does not check).
std::string Encode(const Envelope& e);
// kCorruption naming what does not fit.
Status Decode(std::string_view bytes, Envelope* out);

// Bytes Encode adds around the payload.
size_t OverheadBytes(const Envelope& e);

}  // namespace edge::envelope
