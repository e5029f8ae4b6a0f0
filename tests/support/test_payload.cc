#include "tests/support/test_payload.h"

#include <cstdlib>
#include <functional>

namespace edge::test {

std::string Payload(const std::string& tag, uint64_t i, size_t n) {
  std::string s = tag + "/" + std::to_string(i) + "/";
  uint64_t x = (std::hash<std::string>{}(tag) ^ (i * 0x9E3779B97F4A7C15ull)) | 1;
  for (size_t k = 0; k < n; k++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s += static_cast<char>(x);
  }
  return s;
}

bool WellFormedPayload(const std::string& body) {
  size_t a = body.find('/');
  if (a == std::string::npos) return false;
  size_t b = body.find('/', a + 1);
  if (b == std::string::npos) return false;
  const std::string tag = body.substr(0, a);
  const uint64_t i = std::strtoull(body.c_str() + a + 1, nullptr, 10);
  return body == Payload(tag, i, body.size() - b - 1);
}

uint64_t SeqOfMessageId(const std::string& message_id) {
  size_t colon = message_id.rfind(':');
  if (colon == std::string::npos) return 0;
  return std::strtoull(message_id.c_str() + colon + 1, nullptr, 10);
}

}  // namespace edge::test
