// The intake wire protocol: how a local program hands a payload to the agent over the Unix
// socket. Everything that defines bytes on the wire lives here; docs/PROTOCOL.md is the user
// guide (with Python and C examples), agent/client/edge_agent_client.c the C implementation.
//
// A connection carries frames in both directions. All integers are big-endian (network order);
// there is no padding and no alignment. Every frame starts with its length:
//
//   u32 frame_len   number of bytes that FOLLOW this field (the whole frame is 4 + frame_len)
//
// Request SEND (client -> agent), type 0x01:
//
//    0  4  frame_len
//    4  1  type = 0x01 (kTypeSend)
//    5  1  flags: bit 0 = wait for `confirmed` (kFlagWaitConfirmed); other bits must be zero
//    6  4  request_id: chosen by the client, echoed in the answer (any value, 0 included)
//   10  2  route_len R (1..65535; the agent accepts 1..255, see envelope.h)
//   12  2  header_count H
//   14  R  route name
//       H times: u16 key_len K (>= 1), K bytes key, u32 value_len V, V bytes value
//       the rest of the frame: the payload, binary-safe (may be empty)
//
// Answer (agent -> client), type 0x81:
//
//    0  4  frame_len (= 17 + text_len)
//    4  1  type = 0x81 (kTypeAnswer)
//    5  1  code (AnswerCode below)
//    6  4  request_id of the request this answers
//   10  1  receipt: 0 none, 1 durable, 2 confirmed (Receipt below)
//   11  8  seq: the ring sequence number when the payload was stored (receipt >= 1), else 0
//   19  2  text_len T (<= kMaxAnswerTextBytes)
//   21  T  text: UTF-8 for humans, never parsed by programs; empty on success
//
// Pipelining: a client may send many requests without waiting; answers come back on the same
// connection in request order, exactly one per request. A connection the agent closes after a
// framing error first gets the answers of every earlier request.
//
// Receipts. `durable`: the payload is written and fdatasync'ed in the ring; a power cut after
// this answer loses nothing. `confirmed`: in addition the broker confirmed the message
// (basic.ack). A request with kFlagWaitConfirmed is answered once the publisher settles it:
// ok/confirmed, not_delivered (code 7: returned or nacked by the broker, kept in the local
// dead-letter file; receipt durable) or timeout (code 8: no confirm within the agent's
// confirm_timeout_ms; still durable and still being delivered; receipt durable).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edge::intake {

constexpr uint8_t kTypeSend = 0x01;
constexpr uint8_t kTypeAnswer = 0x81;
constexpr uint8_t kFlagWaitConfirmed = 1u << 0;
constexpr uint8_t kKnownFlags = kFlagWaitConfirmed;

constexpr size_t kLengthFieldBytes = 4;
// type, flags, request_id: what the parser needs to name the request in an error answer.
constexpr size_t kFrameHeadBytes = 1 + 1 + 4;
// The smallest SEND frame_len: head, route_len, header_count.
constexpr size_t kMinSendFrameLen = kFrameHeadBytes + 2 + 2;
// Answer frame_len without text: type, code, request_id, receipt, seq, text_len.
constexpr size_t kAnswerFixedLen = 1 + 1 + 4 + 1 + 8 + 2;
constexpr size_t kMaxAnswerTextBytes = 1024;

enum class AnswerCode : uint8_t {
  kOk = 0,
  kRingFull = 1,      // the ring is full under the `reject` policy: retry later
  kTooLarge = 2,      // the frame or the record exceeds a limit
  kUnknownRoute = 3,  // the route is not configured
  kBadFrame = 4,      // malformed request (see IntakeServer for when the connection closes)
  kShuttingDown = 5,  // the agent is stopping
  kIoError = 6,       // the ring's write or fdatasync failed: NOT acknowledged (it may still
                      // reach the disk and the broker: after the failure nobody can tell)
  kNotDelivered = 7,  // confirmed was asked; the broker returned/nacked it (dead-letter file)
  kTimeout = 8,       // confirmed was asked; no confirm within confirm_timeout_ms (durable)
  kInternal = 9,      // a bug in the agent
};
constexpr int kAnswerCodeCount = 10;

enum class Receipt : uint8_t { kNone = 0, kDurable = 1, kConfirmed = 2 };

// Stable lower-case names: "ok", "ring_full", "too_large", ... (same as the C client's).
const char* AnswerCodeName(AnswerCode code);
const char* ReceiptName(Receipt receipt);

struct SendRequest {
  uint32_t request_id = 0;
  uint8_t flags = 0;
  std::string route;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload;

  bool wait_confirmed() const { return (flags & kFlagWaitConfirmed) != 0; }
};

struct Answer {
  uint32_t request_id = 0;
  AnswerCode code = AnswerCode::kOk;
  Receipt receipt = Receipt::kNone;
  uint64_t seq = 0;
  std::string text;
};

// Encodes a SEND frame. Returns false (out untouched) when a field does not fit its wire
// width (route or key > 65535 bytes, more than 65535 headers, value or frame > 4 GiB).
bool EncodeSend(const SendRequest& request, std::string* out);
// Encodes an answer frame; text longer than kMaxAnswerTextBytes is cut.
std::string EncodeAnswer(const Answer& answer);
// Decodes one answer frame from the start of bytes. Returns the bytes it used (> 0), 0 when
// more bytes are needed, or -1 when the bytes are not an answer frame.
long DecodeAnswer(std::string_view bytes, Answer* out);

// Why a byte stream is not a valid request stream. Framing errors (length, type, flags) are
// decided from the frame's first 10 bytes; errors inside a frame once the whole frame (at most
// max_frame_bytes) has arrived. Either way the outcome depends only on the bytes, never on how
// they were split into reads.
enum class ParseError {
  kNone = 0,
  kTruncatedHeader,   // frame_len < kMinSendFrameLen: too short for the SEND header
  kFrameTooLarge,     // frame_len > max_frame_bytes (decided from the frame head alone)
  kUnknownType,       // type is not kTypeSend
  kUnknownFlags,      // a flag bit other than kKnownFlags is set
  kEmptyRoute,        // route_len == 0
  kRouteBeyondFrame,  // route_len reaches past the end of the frame
  kBadHeader,         // a header's key_len is 0, or a key/value length reaches past the frame
};
const char* ParseErrorName(ParseError e);

// FrameParser: turns a byte stream into SEND requests, incrementally.
//
// A pure function of the bytes fed (no I/O, no clock), so it can be fuzzed and tested byte by
// byte. Memory: it never buffers more than one frame beyond what it was fed, and a frame
// longer than max_frame_bytes is rejected from its 10-byte head, before any of its body is
// needed. After an error the parser stays failed: the stream has no trustworthy frame
// boundary any more, so the connection must be closed.
//
// Thread-safety: none; one parser per connection.
class FrameParser {
 public:
  // max_frame_bytes caps frame_len (the bytes after the length field).
  explicit FrameParser(uint32_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

  void Feed(std::string_view bytes);

  enum class Step { kNeedMore, kRequest, kError };
  // Takes the next complete request out of the buffer into *out (kRequest), or says more
  // bytes are needed, or that the stream is malformed (then error() / error_text()).
  Step Next(SendRequest* out);

  ParseError error() const { return error_; }
  // One line naming what is wrong and the numbers that show it (never payload bytes).
  const std::string& error_text() const { return error_text_; }
  // The request_id of the failing frame when its head had arrived, else 0.
  uint32_t error_request_id() const { return error_request_id_; }

  // Bytes fed but not yet returned as requests.
  size_t buffered_bytes() const { return buf_.size() - start_; }
  // True while a frame has begun arriving but is not complete.
  bool mid_frame() const { return buffered_bytes() > 0; }

 private:
  Step Fail(ParseError e, uint32_t request_id, std::string text);

  uint32_t max_frame_bytes_;
  std::string buf_;
  size_t start_ = 0;  // bytes of buf_ before start_ were consumed
  ParseError error_ = ParseError::kNone;
  std::string error_text_;
  uint32_t error_request_id_ = 0;
};

}  // namespace edge::intake
