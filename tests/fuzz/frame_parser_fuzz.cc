// Fuzz target: the intake's FrameParser (agent/intake/protocol.h) on arbitrary byte streams.
//
// Input: [u16 chunk seed][u16 max_frame_bytes selector][stream bytes...]
//
// The same stream is parsed three ways: in one Feed, in chunks whose sizes come from the seed,
// and one byte at a time, calling Next() after every Feed as the intake does. Invariants:
// - the three give the same requests, the same error (code, text, request id) and the same
//   number of bytes left buffered: the outcome depends only on the bytes, never on the reads;
// - every request re-encodes (EncodeSend) to exactly the bytes it was parsed from, and those
//   bytes are consecutive from the start of the stream: nothing is skipped or invented;
// - after an error nothing is buffered, the parser stays failed when more bytes arrive, and
//   the error has a name and a message;
// - an error caused by a too-large frame is reported before the frame's body arrives.
// The same bytes also go through DecodeAnswer (the answer decoder clients use): what it
// accepts re-encodes to the same bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/intake/protocol.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using edge::intake::Answer;
using edge::intake::FrameParser;
using edge::intake::ParseError;
using edge::intake::SendRequest;

struct Outcome {
  std::vector<SendRequest> requests;
  ParseError error = ParseError::kNone;
  std::string error_text;
  uint32_t error_request_id = 0;
  size_t buffered = 0;
  size_t max_buffered = 0;  // the most the parser held at once
};

bool SameRequest(const SendRequest& a, const SendRequest& b) {
  return a.request_id == b.request_id && a.flags == b.flags && a.route == b.route &&
         a.headers == b.headers && a.payload == b.payload;
}

std::string Describe(const Outcome& o) {
  return std::to_string(o.requests.size()) + " requests, error " +
         edge::intake::ParseErrorName(o.error) + " (" + o.error_text + ", request_id " +
         std::to_string(o.error_request_id) + "), " + std::to_string(o.buffered) +
         " bytes buffered";
}

void Drain(FrameParser* parser, Outcome* out) {
  out->max_buffered = std::max(out->max_buffered, parser->buffered_bytes());
  for (;;) {
    SendRequest r;
    FrameParser::Step step = parser->Next(&r);
    if (step == FrameParser::Step::kRequest) {
      out->requests.push_back(std::move(r));
      continue;
    }
    if (step == FrameParser::Step::kError) {
      FUZZ_CHECK(parser->error() != ParseError::kNone, "kError step without an error code");
    }
    return;
  }
}

void Finish(const FrameParser& parser, Outcome* out) {
  out->error = parser.error();
  out->error_text = parser.error_text();
  out->error_request_id = parser.error_request_id();
  out->buffered = parser.buffered_bytes();
}

// Feeds `stream` in pieces of the sizes `next_size` returns (each >= 1).
template <typename NextSize>
Outcome Parse(std::string_view stream, uint32_t max_frame_bytes, NextSize next_size) {
  FrameParser parser(max_frame_bytes);
  Outcome out;
  size_t at = 0;
  while (at < stream.size()) {
    size_t n = std::min(stream.size() - at, next_size());
    parser.Feed(stream.substr(at, n));
    at += n;
    Drain(&parser, &out);
  }
  Drain(&parser, &out);
  Finish(parser, &out);
  return out;
}

void CheckSame(const Outcome& a, const Outcome& b, const char* how) {
  bool same = a.requests.size() == b.requests.size() && a.error == b.error &&
              a.error_text == b.error_text && a.error_request_id == b.error_request_id &&
              a.buffered == b.buffered;
  for (size_t i = 0; same && i < a.requests.size(); i++) {
    same = SameRequest(a.requests[i], b.requests[i]);
  }
  FUZZ_CHECK(same, std::string("one feed: ") + Describe(a) + "; " + how + ": " + Describe(b));
}

void CheckAnswerDecoder(std::string_view stream) {
  Answer a;
  long used = edge::intake::DecodeAnswer(stream, &a);
  FUZZ_CHECK(used >= -1 && used <= static_cast<long>(stream.size()),
             "DecodeAnswer returned " + std::to_string(used));
  if (used <= 0) return;
  // EncodeAnswer cuts text at kMaxAnswerTextBytes; the decoder accepts up to 65535.
  if (a.text.size() > edge::intake::kMaxAnswerTextBytes) return;
  std::string again = edge::intake::EncodeAnswer(a);
  FUZZ_CHECK(again == stream.substr(0, static_cast<size_t>(used)),
             "a decoded answer does not re-encode to its bytes");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint32_t seed = static_cast<uint32_t>(data[0]) << 8 | data[1];
  // Small limits reach the too-large path with short inputs; the last one is the default
  // intake limit's order of magnitude.
  static constexpr uint32_t kLimits[] = {10, 11, 16, 64, 300, 4096, 1u << 20, 0xffffffffu};
  const uint16_t sel = static_cast<uint16_t>(data[2] << 8 | data[3]);
  const uint32_t max_frame_bytes =
      (sel & 0x8000) != 0 ? 10u + (sel & 0x7fff) : kLimits[sel % (sizeof(kLimits) / 4)];
  const std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);

  const Outcome whole = Parse(stream, max_frame_bytes, [] { return static_cast<size_t>(-1); });
  uint32_t x = seed * 2654435761u + 1;  // a small LCG: chunk sizes 1..64, reproducible
  const Outcome chunked = Parse(stream, max_frame_bytes, [&x] {
    x = x * 1103515245u + 12345u;
    return static_cast<size_t>((x >> 16) % 64 + 1);
  });
  const Outcome bytewise = Parse(stream, max_frame_bytes, [] { return size_t{1}; });
  CheckSame(whole, chunked, "in chunks");
  CheckSame(whole, bytewise, "byte by byte");

  // Every request came from consecutive bytes at the start of the stream, in its canonical
  // encoding; what is left is buffered (or dropped after an error).
  size_t consumed = 0;
  for (const SendRequest& r : whole.requests) {
    std::string frame;
    FUZZ_CHECK(edge::intake::EncodeSend(r, &frame), "a parsed request does not re-encode");
    FUZZ_CHECK(stream.substr(consumed, frame.size()) == frame,
               "request " + std::to_string(r.request_id) + " does not re-encode to the bytes at " +
                   std::to_string(consumed));
    FUZZ_CHECK(frame.size() - edge::intake::kLengthFieldBytes <= max_frame_bytes,
               "a request longer than max_frame_bytes was accepted");
    consumed += frame.size();
  }
  if (whole.error == ParseError::kNone) {
    FUZZ_CHECK(whole.buffered == stream.size() - consumed,
               "buffered " + std::to_string(whole.buffered) + " bytes, expected " +
                   std::to_string(stream.size() - consumed));
  } else {
    FUZZ_CHECK(whole.buffered == 0, "bytes stay buffered after an error");
    FUZZ_CHECK(!whole.error_text.empty(), "an error without a message");
    FUZZ_CHECK(std::string(edge::intake::ParseErrorName(whole.error)) != "unknown",
               "an error without a name");
  }
  // Memory stays bounded by one frame: fed byte by byte the parser never holds more than
  // 4 + max_frame_bytes (the oversized frame is refused from its 10-byte head).
  FUZZ_CHECK(bytewise.max_buffered <=
                 std::max<uint64_t>(edge::intake::kLengthFieldBytes + edge::intake::kFrameHeadBytes,
                                    uint64_t{edge::intake::kLengthFieldBytes} + max_frame_bytes),
             "the parser buffered " + std::to_string(bytewise.max_buffered) +
                 " bytes with max_frame_bytes " + std::to_string(max_frame_bytes));

  // A failed parser stays failed, whatever arrives next.
  if (whole.error != ParseError::kNone) {
    FrameParser parser(max_frame_bytes);
    parser.Feed(stream);
    SendRequest r;
    while (parser.Next(&r) == FrameParser::Step::kRequest) {
    }
    std::string good;
    SendRequest ok;
    ok.route = "r";
    FUZZ_CHECK(edge::intake::EncodeSend(ok, &good), "EncodeSend of a tiny request failed");
    parser.Feed(good);
    FUZZ_CHECK(parser.Next(&r) == FrameParser::Step::kError && parser.buffered_bytes() == 0,
               "the parser recovered after an error");
  }

  CheckAnswerDecoder(stream);
  return 0;
}
