#include "tests/support/consumed_message.h"

namespace edge::test {
namespace {
std::string Str(const amqp_bytes_t& b) {
  return b.len == 0 ? std::string() : std::string(static_cast<const char*>(b.bytes), b.len);
}
}  // namespace

ConsumedMessage FromEnvelope(const amqp_envelope_t& envelope) {
  ConsumedMessage m;
  const amqp_basic_properties_t& p = envelope.message.properties;
  if (p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) m.message_id = Str(p.message_id);
  if (p._flags & AMQP_BASIC_HEADERS_FLAG) {
    for (int i = 0; i < p.headers.num_entries; i++) {
      const amqp_table_entry_t& h = p.headers.entries[i];
      if (h.value.kind != AMQP_FIELD_KIND_UTF8 && h.value.kind != AMQP_FIELD_KIND_BYTES) continue;
      m.headers[Str(h.key)] = Str(h.value.value.bytes);
    }
  }
  m.body = Str(envelope.message.body);
  m.redelivered = envelope.redelivered != 0;
  return m;
}

}  // namespace edge::test
