#include "agent/envelope/envelope.h"

namespace edge::envelope {
namespace {

void Put16(std::string* s, uint16_t v) {
  s->push_back(static_cast<char>(v & 0xff));
  s->push_back(static_cast<char>(v >> 8));
}
void Put32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; i++) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void Put64(std::string* s, uint64_t v) {
  for (int i = 0; i < 8; i++) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// A cursor over bytes that never reads past the end.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  bool U8(uint8_t* v) {
    if (left() < 1) return false;
    *v = static_cast<uint8_t>(b_[pos_++]);
    return true;
  }
  bool U16(uint16_t* v) { return Uint(2, v); }
  bool U32(uint32_t* v) { return Uint(4, v); }
  bool U64(uint64_t* v) { return Uint(8, v); }
  bool Bytes(size_t n, std::string* out) {
    if (left() < n) return false;
    out->assign(b_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  size_t left() const { return b_.size() - pos_; }
  std::string_view rest() const { return b_.substr(pos_); }

 private:
  template <typename T>
  bool Uint(size_t n, T* v) {
    if (left() < n) return false;
    uint64_t r = 0;
    for (size_t i = 0; i < n; i++) {
      r |= static_cast<uint64_t>(static_cast<uint8_t>(b_[pos_ + i])) << (8 * i);
    }
    pos_ += n;
    *v = static_cast<T>(r);
    return true;
  }
  std::string_view b_;
  size_t pos_ = 0;
};

}  // namespace

Status Validate(const Envelope& e) {
  if (e.route.empty() || e.route.size() > kMaxRouteBytes) {
    return Status::InvalidArgument("route name must be 1.." + std::to_string(kMaxRouteBytes) +
                                   " bytes");
  }
  if (e.content_type.size() > 255) {
    return Status::InvalidArgument("content type longer than 255 bytes");
  }
  if (e.headers.size() > kMaxHeaders) {
    return Status::InvalidArgument("more than " + std::to_string(kMaxHeaders) + " headers");
  }
  for (const auto& [k, v] : e.headers) {
    if (k.empty() || k.size() > kMaxHeaderKeyBytes) {
      return Status::InvalidArgument("header name must be 1..255 bytes");
    }
    if (k.rfind("x-edge-", 0) == 0) {
      return Status::InvalidArgument("header '" + k + "' is reserved (x-edge-* is the agent's)");
    }
    if (v.size() > kMaxHeaderValueBytes) {
      return Status::InvalidArgument("header '" + k + "' value exceeds " +
                                     std::to_string(kMaxHeaderValueBytes) + " bytes");
    }
  }
  return Status::Ok();
}

size_t OverheadBytes(const Envelope& e) {
  size_t n = kFixedBytes + e.route.size() + e.content_type.size();
  for (const auto& [k, v] : e.headers) n += 2 + k.size() + 4 + v.size();
  return n;
}

std::string Encode(const Envelope& e) {
  std::string out;
  out.reserve(OverheadBytes(e) + e.payload.size());
  out.push_back(static_cast<char>(kEnvelopeVersion));
  out.push_back(0);
  Put16(&out, static_cast<uint16_t>(e.route.size()));
  Put64(&out, e.accepted_at_ms);
  out.push_back(static_cast<char>(e.content_type.size()));
  Put16(&out, static_cast<uint16_t>(e.headers.size()));
  out += e.route;
  out += e.content_type;
  for (const auto& [k, v] : e.headers) {
    Put16(&out, static_cast<uint16_t>(k.size()));
    out += k;
    Put32(&out, static_cast<uint32_t>(v.size()));
    out += v;
  }
  out += e.payload;
  return out;
}

Status Decode(std::string_view bytes, Envelope* out) {
  Reader r(bytes);
  uint8_t version = 0;
  uint8_t flags = 0;
  uint16_t route_len = 0;
  uint8_t ct_len = 0;
  uint16_t header_count = 0;
  if (!r.U8(&version) || !r.U8(&flags) || !r.U16(&route_len) || !r.U64(&out->accepted_at_ms) ||
      !r.U8(&ct_len) || !r.U16(&header_count)) {
    return Status::Corruption("envelope shorter than its fixed header");
  }
  if (version != kEnvelopeVersion) {
    return Status::Corruption("envelope version " + std::to_string(version) + " is not known");
  }
  if (route_len == 0 || !r.Bytes(route_len, &out->route)) {
    return Status::Corruption("envelope route name missing or cut short");
  }
  if (!r.Bytes(ct_len, &out->content_type)) {
    return Status::Corruption("envelope content type cut short");
  }
  if (header_count > kMaxHeaders) return Status::Corruption("envelope has too many headers");
  out->headers.clear();
  for (uint16_t i = 0; i < header_count; i++) {
    uint16_t klen = 0;
    uint32_t vlen = 0;
    std::string k;
    std::string v;
    if (!r.U16(&klen) || klen == 0 || !r.Bytes(klen, &k) || !r.U32(&vlen) ||
        vlen > kMaxHeaderValueBytes || !r.Bytes(vlen, &v)) {
      return Status::Corruption("envelope header " + std::to_string(i) + " cut short");
    }
    out->headers.emplace_back(std::move(k), std::move(v));
  }
  out->payload.assign(r.rest().data(), r.rest().size());
  return Status::Ok();
}

}  // namespace edge::envelope
