// Delivery: one message the broker handed to the worker, owned until it is settled.
//
// Holds rabbitmq-c's amqp_message_t (properties and body in the message's own pool, freed with
// the Delivery) plus the basic.deliver fields copied out of the connection's frame pool, which
// amqp_maybe_release_buffers() may recycle. The properties stay in their AMQP form so a retry
// or dead-letter copy carries every original header, whatever its type.
//
// Thread-safety: none; a value owned by the worker's thread.
#pragma once

#include <amqp.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edge::worker {

class Delivery {
 public:
  Delivery(uint64_t delivery_tag, bool redelivered, std::string exchange, std::string routing_key,
           amqp_message_t message);
  ~Delivery();
  Delivery(Delivery&& other) noexcept;
  Delivery& operator=(Delivery&& other) = delete;
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;

  uint64_t delivery_tag() const { return delivery_tag_; }
  bool redelivered() const { return redelivered_; }
  const std::string& exchange() const { return exchange_; }
  const std::string& routing_key() const { return routing_key_; }

  const amqp_basic_properties_t& properties() const { return message_.properties; }
  amqp_bytes_t body_bytes() const { return message_.body; }
  std::string_view body() const;

  // Property values; "" when absent.
  std::string message_id() const;
  std::string correlation_id() const;
  std::string reply_to() const;
  std::string content_type() const;

  // The header's value when it is a string (longstr or byte array).
  std::optional<std::string> StringHeader(std::string_view name) const;
  // The header's value when it is an integer of any AMQP width, or a string of decimal digits
  // (other clients write counters either way).
  std::optional<int64_t> IntHeader(std::string_view name) const;

 private:
  const amqp_field_value_t* FindHeader(std::string_view name) const;

  uint64_t delivery_tag_;
  bool redelivered_;
  std::string exchange_;
  std::string routing_key_;
  amqp_message_t message_;
  bool owns_message_ = true;
};

// A string view of AMQP bytes (empty for a null pointer).
inline std::string_view View(amqp_bytes_t b) {
  return b.len == 0 ? std::string_view()
                    : std::string_view(static_cast<const char*>(b.bytes), b.len);
}

}  // namespace edge::worker
