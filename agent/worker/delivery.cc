#include "agent/worker/delivery.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <utility>

namespace edge::worker {
namespace {

std::string PropertyString(const amqp_basic_properties_t& p, amqp_flags_t flag,
                           amqp_bytes_t value) {
  if ((p._flags & flag) == 0) return std::string();
  return std::string(View(value));
}

}  // namespace

Delivery::Delivery(uint64_t delivery_tag, bool redelivered, std::string exchange,
                   std::string routing_key, amqp_message_t message)
    : delivery_tag_(delivery_tag),
      redelivered_(redelivered),
      exchange_(std::move(exchange)),
      routing_key_(std::move(routing_key)),
      message_(message) {}

Delivery::~Delivery() {
  if (owns_message_) amqp_destroy_message(&message_);
}

Delivery::Delivery(Delivery&& other) noexcept
    : delivery_tag_(other.delivery_tag_),
      redelivered_(other.redelivered_),
      exchange_(std::move(other.exchange_)),
      routing_key_(std::move(other.routing_key_)),
      message_(other.message_),
      owns_message_(other.owns_message_) {
  other.owns_message_ = false;
}

std::string_view Delivery::body() const { return View(message_.body); }

std::string Delivery::message_id() const {
  return PropertyString(message_.properties, AMQP_BASIC_MESSAGE_ID_FLAG,
                        message_.properties.message_id);
}
std::string Delivery::correlation_id() const {
  return PropertyString(message_.properties, AMQP_BASIC_CORRELATION_ID_FLAG,
                        message_.properties.correlation_id);
}
std::string Delivery::reply_to() const {
  return PropertyString(message_.properties, AMQP_BASIC_REPLY_TO_FLAG,
                        message_.properties.reply_to);
}
std::string Delivery::content_type() const {
  return PropertyString(message_.properties, AMQP_BASIC_CONTENT_TYPE_FLAG,
                        message_.properties.content_type);
}

const amqp_field_value_t* Delivery::FindHeader(std::string_view name) const {
  const amqp_basic_properties_t& p = message_.properties;
  if ((p._flags & AMQP_BASIC_HEADERS_FLAG) == 0) return nullptr;
  for (int i = 0; i < p.headers.num_entries; i++) {
    if (View(p.headers.entries[i].key) == name) return &p.headers.entries[i].value;
  }
  return nullptr;
}

std::optional<std::string> Delivery::StringHeader(std::string_view name) const {
  const amqp_field_value_t* v = FindHeader(name);
  if (v == nullptr) return std::nullopt;
  if (v->kind != AMQP_FIELD_KIND_UTF8 && v->kind != AMQP_FIELD_KIND_BYTES) return std::nullopt;
  return std::string(View(v->value.bytes));
}

std::optional<int64_t> Delivery::IntHeader(std::string_view name) const {
  const amqp_field_value_t* v = FindHeader(name);
  if (v == nullptr) return std::nullopt;
  switch (v->kind) {
    case AMQP_FIELD_KIND_I8:
      return v->value.i8;
    case AMQP_FIELD_KIND_U8:
      return v->value.u8;
    case AMQP_FIELD_KIND_I16:
      return v->value.i16;
    case AMQP_FIELD_KIND_U16:
      return v->value.u16;
    case AMQP_FIELD_KIND_I32:
      return v->value.i32;
    case AMQP_FIELD_KIND_U32:
      return v->value.u32;
    case AMQP_FIELD_KIND_I64:
      return v->value.i64;
    case AMQP_FIELD_KIND_U64:
      return static_cast<int64_t>(std::min<uint64_t>(v->value.u64, INT64_MAX));
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES: {
      std::string s(View(v->value.bytes));
      if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) {
        return std::nullopt;
      }
      return std::strtoll(s.c_str(), nullptr, 10);
    }
    default:
      return std::nullopt;
  }
}

}  // namespace edge::worker
