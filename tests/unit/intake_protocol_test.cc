// The intake wire format (agent/intake/protocol.h): encoding, the incremental FrameParser and
// every way a request stream can be malformed.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "agent/intake/protocol.h"

namespace edge::intake {
namespace {

constexpr uint32_t kMax = 4096;

SendRequest Sample(uint32_t id) {
  SendRequest r;
  r.request_id = id;
  r.flags = kFlagWaitConfirmed;
  r.route = "telemetry";
  r.headers = {{"sensor", "t1"}, {"unit", std::string("\0C\xff", 3)}};
  r.payload = std::string("bin\0ary\r\n\xfe", 10);
  return r;
}

std::string Encoded(const SendRequest& r) {
  std::string out;
  EXPECT_TRUE(EncodeSend(r, &out));
  return out;
}

void ExpectSame(const SendRequest& a, const SendRequest& b) {
  EXPECT_EQ(a.request_id, b.request_id);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.route, b.route);
  EXPECT_EQ(a.headers, b.headers);
  EXPECT_EQ(a.payload, b.payload);
}

// Big-endian helpers for hand-made (malformed) frames.
void Be16(std::string* s, uint32_t v) {
  s->push_back(static_cast<char>(v >> 8));
  s->push_back(static_cast<char>(v));
}
void Be32(std::string* s, uint32_t v) {
  for (int i = 3; i >= 0; i--) s->push_back(static_cast<char>(v >> (8 * i)));
}

// A frame whose frame_len is computed from the body given (type, flags, id, then body).
std::string RawFrame(uint8_t type, uint8_t flags, uint32_t id, const std::string& body) {
  std::string s;
  Be32(&s, static_cast<uint32_t>(kFrameHeadBytes + body.size()));
  s.push_back(static_cast<char>(type));
  s.push_back(static_cast<char>(flags));
  Be32(&s, id);
  return s + body;
}

struct Outcome {
  std::vector<SendRequest> requests;
  ParseError error = ParseError::kNone;
  uint32_t error_request_id = 0;
  std::string error_text;
};

// Feeds bytes in chunks of `chunk` (0: all at once), pulling requests after every chunk.
Outcome Parse(const std::string& bytes, size_t chunk, uint32_t max = kMax) {
  FrameParser p(max);
  Outcome o;
  size_t pos = 0;
  do {
    size_t n = chunk == 0 ? bytes.size() : std::min(chunk, bytes.size() - pos);
    p.Feed(std::string_view(bytes).substr(pos, n));
    pos += n;
    for (;;) {
      SendRequest r;
      FrameParser::Step step = p.Next(&r);
      if (step == FrameParser::Step::kRequest) {
        o.requests.push_back(std::move(r));
        continue;
      }
      if (step == FrameParser::Step::kError) {
        o.error = p.error();
        o.error_request_id = p.error_request_id();
        o.error_text = p.error_text();
        return o;
      }
      break;
    }
  } while (pos < bytes.size());
  return o;
}

TEST(IntakeProtocolTest, RoundTripsRouteHeadersAndBinaryPayload) {
  Outcome o = Parse(Encoded(Sample(7)), 0);
  ASSERT_EQ(o.error, ParseError::kNone) << o.error_text;
  ASSERT_EQ(o.requests.size(), 1u);
  ExpectSame(o.requests[0], Sample(7));
  EXPECT_TRUE(o.requests[0].wait_confirmed());
}

TEST(IntakeProtocolTest, RoundTripsARequestWithNoHeadersAndAnEmptyPayload) {
  SendRequest r;
  r.request_id = 0;
  r.route = "r";
  Outcome o = Parse(Encoded(r), 0);
  ASSERT_EQ(o.requests.size(), 1u);
  ExpectSame(o.requests[0], r);
  EXPECT_FALSE(o.requests[0].wait_confirmed());
}

TEST(IntakeProtocolTest, LaysOutTheSendFrameAsDocumented) {
  SendRequest r;
  r.request_id = 0x01020304;
  r.flags = 1;
  r.route = "ab";
  r.headers = {{"k", "vv"}};
  r.payload = "P";
  const std::string expected =
      std::string("\x00\x00\x00\x16", 4) +          // frame_len 22
      std::string("\x01\x01\x01\x02\x03\x04", 6) +  // type, flags, request_id
      std::string("\x00\x02\x00\x01", 4) + "ab" +   // route_len, header_count, route
      std::string("\x00\x01", 2) + "k" + std::string("\x00\x00\x00\x02", 4) + "vv" + "P";
  EXPECT_EQ(Encoded(r), expected);
}

TEST(IntakeProtocolTest, PipelinedRequestsFedByteByByteComeOutWholeAndInOrder) {
  std::string stream;
  for (uint32_t i = 0; i < 20; i++) {
    SendRequest r = Sample(i);
    r.payload = std::string(i * 37, static_cast<char>('a' + i));
    stream += Encoded(r);
  }
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{64}, size_t{0}}) {
    Outcome o = Parse(stream, chunk);
    ASSERT_EQ(o.error, ParseError::kNone) << "chunk " << chunk;
    ASSERT_EQ(o.requests.size(), 20u) << "chunk " << chunk;
    for (uint32_t i = 0; i < 20; i++) {
      EXPECT_EQ(o.requests[i].request_id, i);
      EXPECT_EQ(o.requests[i].payload, std::string(i * 37, static_cast<char>('a' + i)));
    }
  }
}

TEST(IntakeProtocolTest, NeedsMoreUntilTheLastByteOfAFrameArrives) {
  const std::string frame = Encoded(Sample(1));
  FrameParser p(kMax);
  SendRequest r;
  for (size_t i = 0; i + 1 < frame.size(); i++) {
    p.Feed(frame.substr(i, 1));
    ASSERT_EQ(p.Next(&r), FrameParser::Step::kNeedMore) << "after byte " << i;
    EXPECT_TRUE(p.mid_frame());
  }
  p.Feed(frame.substr(frame.size() - 1));
  EXPECT_EQ(p.Next(&r), FrameParser::Step::kRequest);
  EXPECT_FALSE(p.mid_frame());
  EXPECT_EQ(p.buffered_bytes(), 0u);
}

TEST(IntakeProtocolTest, RejectsAnOversizedFrameFromItsHeadAloneWithItsRequestId) {
  std::string head;
  Be32(&head, kMax + 1);
  head.push_back(static_cast<char>(kTypeSend));
  head.push_back(0);
  Be32(&head, 99);
  FrameParser p(kMax);
  SendRequest r;
  p.Feed(head.substr(0, 9));
  EXPECT_EQ(p.Next(&r), FrameParser::Step::kNeedMore);  // request_id not complete yet
  p.Feed(head.substr(9));
  ASSERT_EQ(p.Next(&r), FrameParser::Step::kError);
  EXPECT_EQ(p.error(), ParseError::kFrameTooLarge);
  EXPECT_EQ(p.error_request_id(), 99u);
  EXPECT_NE(p.error_text().find("4097"), std::string::npos) << p.error_text();
  // Nothing of the announced body is held.
  EXPECT_EQ(p.buffered_bytes(), 0u);
}

TEST(IntakeProtocolTest, AcceptsAFrameOfExactlyMaxFrameBytes) {
  SendRequest r = Sample(5);
  r.payload.clear();
  std::string probe = Encoded(r);
  r.payload.assign(kMax - (probe.size() - kLengthFieldBytes), 'x');
  Outcome o = Parse(Encoded(r), 0);
  ASSERT_EQ(o.error, ParseError::kNone) << o.error_text;
  ASSERT_EQ(o.requests.size(), 1u);
  r.payload.push_back('y');
  EXPECT_EQ(Parse(Encoded(r), 0).error, ParseError::kFrameTooLarge);
}

TEST(IntakeProtocolTest, RejectsAFrameShorterThanTheSendHeaderAsTruncatedHeader) {
  std::string s;
  Be32(&s, kMinSendFrameLen - 1);
  s += std::string(kMinSendFrameLen - 1, '\0');
  Outcome o = Parse(s, 0);
  EXPECT_EQ(o.error, ParseError::kTruncatedHeader);
  EXPECT_EQ(o.error_request_id, 0u);
  // Decided from the length field alone.
  EXPECT_EQ(Parse(s.substr(0, 4), 0).error, ParseError::kTruncatedHeader);
}

TEST(IntakeProtocolTest, RejectsAnUnknownFrameType) {
  std::string body;
  Be16(&body, 1);
  Be16(&body, 0);
  body += "r";
  Outcome o = Parse(RawFrame(0x07, 0, 42, body), 0);
  EXPECT_EQ(o.error, ParseError::kUnknownType);
  EXPECT_EQ(o.error_request_id, 42u);
  EXPECT_NE(o.error_text.find("0x07"), std::string::npos);
}

TEST(IntakeProtocolTest, RejectsUnknownFlagBits) {
  std::string body;
  Be16(&body, 1);
  Be16(&body, 0);
  body += "r";
  EXPECT_EQ(Parse(RawFrame(kTypeSend, 0x02, 1, body), 0).error, ParseError::kUnknownFlags);
}

TEST(IntakeProtocolTest, RejectsAnEmptyRoute) {
  std::string body;
  Be16(&body, 0);
  Be16(&body, 0);
  body += "payload";
  EXPECT_EQ(Parse(RawFrame(kTypeSend, 0, 1, body), 0).error, ParseError::kEmptyRoute);
}

TEST(IntakeProtocolTest, RejectsARouteLengthReachingPastTheFrame) {
  std::string body;
  Be16(&body, 50);
  Be16(&body, 0);
  body += "short";
  Outcome o = Parse(RawFrame(kTypeSend, 0, 3, body), 0);
  EXPECT_EQ(o.error, ParseError::kRouteBeyondFrame);
  EXPECT_EQ(o.error_request_id, 3u);
}

TEST(IntakeProtocolTest, RejectsAHeaderCountWithoutTheHeaders) {
  std::string body;
  Be16(&body, 1);
  Be16(&body, 2);  // two headers announced, none present
  body += "r";
  Outcome o = Parse(RawFrame(kTypeSend, 0, 1, body), 0);
  EXPECT_EQ(o.error, ParseError::kBadHeader);
  EXPECT_NE(o.error_text.find("header 1 of 2"), std::string::npos) << o.error_text;
}

TEST(IntakeProtocolTest, RejectsAnEmptyHeaderKey) {
  std::string body;
  Be16(&body, 1);
  Be16(&body, 1);
  body += "r";
  Be16(&body, 0);
  Be32(&body, 0);
  Outcome o = Parse(RawFrame(kTypeSend, 0, 1, body), 0);
  EXPECT_EQ(o.error, ParseError::kBadHeader);
  EXPECT_NE(o.error_text.find("key_len is 0"), std::string::npos) << o.error_text;
}

TEST(IntakeProtocolTest, RejectsAHeaderKeyReachingPastTheFrame) {
  std::string body;
  Be16(&body, 1);
  Be16(&body, 1);
  body += "r";
  Be16(&body, 200);
  body += "abc";
  EXPECT_EQ(Parse(RawFrame(kTypeSend, 0, 1, body), 0).error, ParseError::kBadHeader);
}

TEST(IntakeProtocolTest, RejectsAHeaderValueReachingPastTheFrame) {
  std::string body;
  Be16(&body, 1);
  Be16(&body, 1);
  body += "r";
  Be16(&body, 1);
  body += "k";
  Be32(&body, 0x7fffffff);
  body += "v";
  Outcome o = Parse(RawFrame(kTypeSend, 0, 1, body), 0);
  EXPECT_EQ(o.error, ParseError::kBadHeader);
  EXPECT_NE(o.error_text.find("value_len"), std::string::npos) << o.error_text;
}

TEST(IntakeProtocolTest, EveryMalformedCaseGivesTheSameErrorFedByteByByte) {
  std::vector<std::string> cases;
  std::string body;
  Be16(&body, 0);
  Be16(&body, 0);
  cases.push_back(RawFrame(kTypeSend, 0, 1, body));  // empty route
  cases.push_back(RawFrame(0x02, 0, 1, body));       // unknown type
  cases.push_back(RawFrame(kTypeSend, 0x80, 1, body));
  body.clear();
  Be16(&body, 9);
  Be16(&body, 0);
  cases.push_back(RawFrame(kTypeSend, 0, 1, body));  // route beyond frame
  std::string big;
  Be32(&big, 1u << 30);
  big += std::string("\x01\x00\x00\x00\x00\x05", 6);
  cases.push_back(big);
  for (const std::string& bad : cases) {
    // A good request first: it must come out before the error is reported.
    const std::string stream = Encoded(Sample(1)) + bad;
    Outcome whole = Parse(stream, 0);
    Outcome bytewise = Parse(stream, 1);
    EXPECT_NE(whole.error, ParseError::kNone);
    EXPECT_EQ(whole.error, bytewise.error);
    EXPECT_EQ(whole.error_request_id, bytewise.error_request_id);
    EXPECT_EQ(whole.error_text, bytewise.error_text);
    EXPECT_EQ(whole.requests.size(), 1u);
    EXPECT_EQ(bytewise.requests.size(), 1u);
  }
}

TEST(IntakeProtocolTest, StaysFailedAfterAnErrorEvenWhenGoodBytesFollow) {
  FrameParser p(kMax);
  std::string s;
  Be32(&s, 2);
  p.Feed(s);
  SendRequest r;
  ASSERT_EQ(p.Next(&r), FrameParser::Step::kError);
  p.Feed(Encoded(Sample(1)));
  EXPECT_EQ(p.Next(&r), FrameParser::Step::kError);
  EXPECT_EQ(p.buffered_bytes(), 0u);
}

TEST(IntakeProtocolTest, RandomBytesInRandomChunksGiveTheSameOutcomeAsOneFeed) {
  std::mt19937 rng(1234);
  for (int round = 0; round < 300; round++) {
    std::string stream;
    // Mostly valid frames with random mutations, so parsing gets deep into frames.
    int frames = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < frames; f++) stream += Encoded(Sample(static_cast<uint32_t>(f)));
    int flips = static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; i++) {
      stream[rng() % stream.size()] = static_cast<char>(rng());
    }
    Outcome whole = Parse(stream, 0, 256);
    Outcome pieces = Parse(stream, 1 + rng() % 7, 256);
    ASSERT_EQ(whole.error, pieces.error) << "round " << round;
    ASSERT_EQ(whole.error_text, pieces.error_text) << "round " << round;
    ASSERT_EQ(whole.requests.size(), pieces.requests.size()) << "round " << round;
    for (size_t i = 0; i < whole.requests.size(); i++) {
      ExpectSame(whole.requests[i], pieces.requests[i]);
    }
  }
}

TEST(IntakeProtocolTest, EncodeSendRefusesFieldsWiderThanTheWire) {
  SendRequest r;
  r.route = std::string(70000, 'r');
  std::string out = "untouched";
  EXPECT_FALSE(EncodeSend(r, &out));
  EXPECT_EQ(out, "untouched");
  r.route = "r";
  r.headers.emplace_back(std::string(70000, 'k'), "v");
  EXPECT_FALSE(EncodeSend(r, &out));
}

TEST(IntakeProtocolTest, AnswerRoundTripsAndLaysOutAsDocumented) {
  Answer a;
  a.request_id = 0x0a0b0c0d;
  a.code = AnswerCode::kNotDelivered;
  a.receipt = Receipt::kDurable;
  a.seq = 0x0102030405060708ull;
  a.text = "nacked";
  const std::string bytes = EncodeAnswer(a);
  EXPECT_EQ(bytes, std::string("\x00\x00\x00\x17\x81\x07\x0a\x0b\x0c\x0d\x01"
                               "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x06",
                               21) +
                       "nacked");
  Answer b;
  EXPECT_EQ(DecodeAnswer(bytes, &b), static_cast<long>(bytes.size()));
  EXPECT_EQ(b.request_id, a.request_id);
  EXPECT_EQ(b.code, a.code);
  EXPECT_EQ(b.receipt, a.receipt);
  EXPECT_EQ(b.seq, a.seq);
  EXPECT_EQ(b.text, a.text);
  EXPECT_EQ(DecodeAnswer(bytes.substr(0, bytes.size() - 1), &b), 0);
  EXPECT_EQ(DecodeAnswer(std::string(25, '\xff'), &b), -1);
}

TEST(IntakeProtocolTest, AnswerTextIsCutToTheDocumentedMaximum) {
  Answer a;
  a.text = std::string(5000, 't');
  Answer b;
  const std::string bytes = EncodeAnswer(a);
  ASSERT_GT(DecodeAnswer(bytes, &b), 0);
  EXPECT_EQ(b.text.size(), kMaxAnswerTextBytes);
}

TEST(IntakeProtocolTest, CodeNamesAreTheDocumentedOnes) {
  const char* expected[kAnswerCodeCount] = {
      "ok",       "ring_full",     "too_large", "unknown_route", "bad_frame", "shutting_down",
      "io_error", "not_delivered", "timeout",   "internal"};
  for (int i = 0; i < kAnswerCodeCount; i++) {
    EXPECT_STREQ(AnswerCodeName(static_cast<AnswerCode>(i)), expected[i]);
  }
  EXPECT_STREQ(ReceiptName(Receipt::kConfirmed), "confirmed");
}

}  // namespace
}  // namespace edge::intake
