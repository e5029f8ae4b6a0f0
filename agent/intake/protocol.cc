#include "agent/intake/protocol.h"

#include <algorithm>
#include <cstdio>
#include <limits>

namespace edge::intake {
namespace {

// Consumed bytes are dropped from the front of the buffer once they are both more than this
// and more than half of it: amortised O(1) per byte, and the buffer never holds more than one
// incomplete frame plus one read's worth of bytes beyond what the caller fed.
constexpr size_t kCompactBytes = 64 << 10;

void PutBe16(std::string* s, uint16_t v) {
  s->push_back(static_cast<char>(v >> 8));
  s->push_back(static_cast<char>(v & 0xff));
}
void PutBe32(std::string* s, uint32_t v) {
  for (int i = 3; i >= 0; i--) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutBe64(std::string* s, uint64_t v) {
  for (int i = 7; i >= 0; i--) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t GetBe(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string Hex8(uint8_t v) {
  char b[8];
  std::snprintf(b, sizeof(b), "0x%02x", v);
  return b;
}

}  // namespace

const char* AnswerCodeName(AnswerCode code) {
  switch (code) {
    case AnswerCode::kOk:
      return "ok";
    case AnswerCode::kRingFull:
      return "ring_full";
    case AnswerCode::kTooLarge:
      return "too_large";
    case AnswerCode::kUnknownRoute:
      return "unknown_route";
    case AnswerCode::kBadFrame:
      return "bad_frame";
    case AnswerCode::kShuttingDown:
      return "shutting_down";
    case AnswerCode::kIoError:
      return "io_error";
    case AnswerCode::kNotDelivered:
      return "not_delivered";
    case AnswerCode::kTimeout:
      return "timeout";
    case AnswerCode::kInternal:
      return "internal";
  }
  return "unknown";
}

const char* ReceiptName(Receipt receipt) {
  switch (receipt) {
    case Receipt::kNone:
      return "none";
    case Receipt::kDurable:
      return "durable";
    case Receipt::kConfirmed:
      return "confirmed";
  }
  return "unknown";
}

const char* ParseErrorName(ParseError e) {
  switch (e) {
    case ParseError::kNone:
      return "none";
    case ParseError::kTruncatedHeader:
      return "truncated_header";
    case ParseError::kFrameTooLarge:
      return "frame_too_large";
    case ParseError::kUnknownType:
      return "unknown_type";
    case ParseError::kUnknownFlags:
      return "unknown_flags";
    case ParseError::kEmptyRoute:
      return "empty_route";
    case ParseError::kRouteBeyondFrame:
      return "route_beyond_frame";
    case ParseError::kBadHeader:
      return "bad_header";
  }
  return "unknown";
}

bool EncodeSend(const SendRequest& r, std::string* out) {
  constexpr uint64_t kU16 = std::numeric_limits<uint16_t>::max();
  constexpr uint64_t kU32 = std::numeric_limits<uint32_t>::max();
  if (r.route.size() > kU16 || r.headers.size() > kU16) return false;
  uint64_t len = kMinSendFrameLen + r.route.size() + r.payload.size();
  for (const auto& [k, v] : r.headers) {
    if (k.size() > kU16 || v.size() > kU32) return false;
    len += 2 + k.size() + 4 + v.size();
  }
  if (len > kU32) return false;
  std::string s;
  s.reserve(kLengthFieldBytes + len);
  PutBe32(&s, static_cast<uint32_t>(len));
  s.push_back(static_cast<char>(kTypeSend));
  s.push_back(static_cast<char>(r.flags));
  PutBe32(&s, r.request_id);
  PutBe16(&s, static_cast<uint16_t>(r.route.size()));
  PutBe16(&s, static_cast<uint16_t>(r.headers.size()));
  s += r.route;
  for (const auto& [k, v] : r.headers) {
    PutBe16(&s, static_cast<uint16_t>(k.size()));
    s += k;
    PutBe32(&s, static_cast<uint32_t>(v.size()));
    s += v;
  }
  s += r.payload;
  *out = std::move(s);
  return true;
}

std::string EncodeAnswer(const Answer& a) {
  const size_t text_len = a.text.size() < kMaxAnswerTextBytes ? a.text.size() : kMaxAnswerTextBytes;
  std::string s;
  s.reserve(kLengthFieldBytes + kAnswerFixedLen + text_len);
  PutBe32(&s, static_cast<uint32_t>(kAnswerFixedLen + text_len));
  s.push_back(static_cast<char>(kTypeAnswer));
  s.push_back(static_cast<char>(a.code));
  PutBe32(&s, a.request_id);
  s.push_back(static_cast<char>(a.receipt));
  PutBe64(&s, a.seq);
  PutBe16(&s, static_cast<uint16_t>(text_len));
  s.append(a.text, 0, text_len);
  return s;
}

long DecodeAnswer(std::string_view b, Answer* out) {
  if (b.size() < kLengthFieldBytes) return 0;
  const uint64_t frame_len = GetBe(b.data(), 4);
  if (frame_len < kAnswerFixedLen || frame_len > kAnswerFixedLen + 0xffff) return -1;
  if (b.size() < kLengthFieldBytes + frame_len) return 0;
  const char* p = b.data() + kLengthFieldBytes;
  if (static_cast<uint8_t>(p[0]) != kTypeAnswer) return -1;
  const uint8_t code = static_cast<uint8_t>(p[1]);
  const uint8_t receipt = static_cast<uint8_t>(p[6]);
  const uint64_t text_len = GetBe(p + 15, 2);
  if (code >= kAnswerCodeCount || receipt > 2 || text_len != frame_len - kAnswerFixedLen) {
    return -1;
  }
  out->code = static_cast<AnswerCode>(code);
  out->request_id = static_cast<uint32_t>(GetBe(p + 2, 4));
  out->receipt = static_cast<Receipt>(receipt);
  out->seq = GetBe(p + 7, 8);
  out->text.assign(p + kAnswerFixedLen, text_len);
  return static_cast<long>(kLengthFieldBytes + frame_len);
}

void FrameParser::Feed(std::string_view bytes) {
  if (error_ != ParseError::kNone) return;  // nothing after an error can be trusted
  buf_.append(bytes.data(), bytes.size());
}

FrameParser::Step FrameParser::Fail(ParseError e, uint32_t request_id, std::string text) {
  error_ = e;
  error_request_id_ = request_id;
  error_text_ = std::move(text);
  buf_.clear();
  buf_.shrink_to_fit();
  start_ = 0;
  return Step::kError;
}

FrameParser::Step FrameParser::Next(SendRequest* out) {
  if (error_ != ParseError::kNone) return Step::kError;
  const size_t avail = buffered_bytes();
  if (avail < kLengthFieldBytes) return Step::kNeedMore;
  const char* f = buf_.data() + start_;
  // 64-bit arithmetic throughout: on armhf size_t is 32 bits and 4 + frame_len can overflow it.
  const uint64_t frame_len = GetBe(f, 4);
  if (frame_len < kMinSendFrameLen) {
    return Fail(ParseError::kTruncatedHeader, 0,
                "frame_len " + std::to_string(frame_len) + " is shorter than the " +
                    std::to_string(kMinSendFrameLen) + "-byte SEND header");
  }
  if (avail < kLengthFieldBytes + kFrameHeadBytes) return Step::kNeedMore;
  const uint8_t type = static_cast<uint8_t>(f[4]);
  const uint8_t flags = static_cast<uint8_t>(f[5]);
  const uint32_t request_id = static_cast<uint32_t>(GetBe(f + 6, 4));
  if (type != kTypeSend) {
    return Fail(ParseError::kUnknownType, request_id, "unknown frame type " + Hex8(type));
  }
  if ((flags & ~kKnownFlags) != 0) {
    // Rejected rather than ignored: a newer client asking for something this agent does not do
    // must not get a receipt that silently means less than it asked for.
    return Fail(ParseError::kUnknownFlags, request_id,
                "unknown flags " + Hex8(flags) + " (known: " + Hex8(kKnownFlags) + ")");
  }
  if (frame_len > max_frame_bytes_) {
    return Fail(ParseError::kFrameTooLarge, request_id,
                "frame of " + std::to_string(frame_len) + " bytes exceeds max_frame_bytes " +
                    std::to_string(max_frame_bytes_));
  }
  if (avail < kLengthFieldBytes + frame_len) return Step::kNeedMore;

  // The whole frame is here: [p, end) is its body after the head.
  const char* p = f + kLengthFieldBytes + kFrameHeadBytes;
  const char* const end = f + kLengthFieldBytes + frame_len;
  const uint64_t route_len = GetBe(p, 2);
  const uint64_t header_count = GetBe(p + 2, 2);
  p += 4;
  if (route_len == 0) return Fail(ParseError::kEmptyRoute, request_id, "route_len is 0");
  if (route_len > static_cast<uint64_t>(end - p)) {
    return Fail(ParseError::kRouteBeyondFrame, request_id,
                "route_len " + std::to_string(route_len) + " reaches past the frame (" +
                    std::to_string(end - p) + " bytes left)");
  }
  SendRequest r;
  r.request_id = request_id;
  r.flags = flags;
  r.route.assign(p, route_len);
  p += route_len;
  // Every header takes at least 7 bytes, so the frame itself bounds the reservation (a tiny
  // frame claiming 65535 headers must not allocate megabytes).
  r.headers.reserve(std::min<uint64_t>(header_count, static_cast<uint64_t>(end - p) / 7));
  for (uint64_t i = 0; i < header_count; i++) {
    const std::string which =
        "header " + std::to_string(i + 1) + " of " + std::to_string(header_count) + ": ";
    if (end - p < 2) {
      return Fail(ParseError::kBadHeader, request_id, which + "key_len reaches past the frame");
    }
    const uint64_t key_len = GetBe(p, 2);
    p += 2;
    if (key_len == 0) return Fail(ParseError::kBadHeader, request_id, which + "key_len is 0");
    if (key_len + 4 > static_cast<uint64_t>(end - p)) {
      return Fail(ParseError::kBadHeader, request_id,
                  which + "key_len " + std::to_string(key_len) + " reaches past the frame");
    }
    std::string key(p, key_len);
    p += key_len;
    const uint64_t value_len = GetBe(p, 4);
    p += 4;
    if (value_len > static_cast<uint64_t>(end - p)) {
      return Fail(ParseError::kBadHeader, request_id,
                  which + "value_len " + std::to_string(value_len) + " reaches past the frame");
    }
    r.headers.emplace_back(std::move(key), std::string(p, value_len));
    p += value_len;
  }
  r.payload.assign(p, static_cast<size_t>(end - p));

  start_ += static_cast<size_t>(kLengthFieldBytes + frame_len);
  if (start_ == buf_.size()) {
    buf_.clear();
    start_ = 0;
    // After one large frame, do not keep its buffer for the rest of the connection's life.
    if (buf_.capacity() > kCompactBytes * 4) buf_.shrink_to_fit();
  } else if (start_ > kCompactBytes && start_ > buf_.size() / 2) {
    buf_.erase(0, start_);
    start_ = 0;
  }
  *out = std::move(r);
  return Step::kRequest;
}

}  // namespace edge::intake
