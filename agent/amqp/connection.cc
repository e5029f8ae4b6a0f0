#include "agent/amqp/connection.h"

#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace edge::amqp {
namespace {

// Closing politely must not hang a shutdown: each close RPC gets at most this long.
constexpr int kCloseTimeoutMs = 5000;

timeval ToTimeval(int ms) {
  timeval tv{};
  tv.tv_sec = ms / 1000;
  tv.tv_usec = static_cast<suseconds_t>(ms % 1000) * 1000;
  return tv;
}

amqp_table_entry_t BoolEntry(const char* key) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
  e.value.value.boolean = 1;
  return e;
}

// The entry points at `text`, it does not copy it: `text` must outlive the login call (string
// literals, or strings owned by the Endpoint).
amqp_table_entry_t TextEntry(const char* key, const char* text) {
  amqp_table_entry_t e{};
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = amqp_cstring_bytes(text);
  return e;
}

Status ValidateEndpoint(const Endpoint& e) {
  const std::string where = "broker endpoint " + e.Url();
  if (e.host.empty()) return Status::InvalidArgument("broker endpoint: host is empty");
  if (e.port == 0) return Status::InvalidArgument(where + ": port must be 1-65535");
  if (e.heartbeat_s < 0 || e.heartbeat_s > 65535) {
    return Status::InvalidArgument(where + ": heartbeat_s must be 0-65535");
  }
  if (e.connect_timeout_ms <= 0 || e.handshake_timeout_ms <= 0 || e.login_timeout_ms <= 0 ||
      e.rpc_timeout_ms < 0 || e.silence_limit_ms < 0) {
    return Status::InvalidArgument(where +
                                   ": connect/handshake/login timeouts must be positive, "
                                   "rpc_timeout_ms and silence_limit_ms >= 0");
  }
  if (e.auth == AuthMechanism::kPlain && e.user.empty()) {
    return Status::InvalidArgument(where + ": user is required for PLAIN login");
  }
  if (e.auth == AuthMechanism::kExternal) {
    if (e.security != port::TransportSecurity::kTls || e.client_cert_file.empty()) {
      return Status::InvalidArgument(where +
                                     ": EXTERNAL login needs TLS with client_cert_file and "
                                     "client_key_file");
    }
    if (e.external_identity.empty()) {
      // rabbitmq-c 0.11 fails inside the SASL exchange on an empty EXTERNAL response.
      return Status::InvalidArgument(where + ": external_identity must not be empty");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::Connect(const Endpoint& endpoint,
                                                        AmqpFailure* failure) {
  if (failure != nullptr) *failure = AmqpFailure{};
  EDGE_RETURN_IF_ERROR(ValidateEndpoint(endpoint));

  port::TransportConfig transport;
  transport.host = endpoint.host;
  transport.port = endpoint.port;
  transport.security = endpoint.security;
  transport.tls.ca_file = endpoint.ca_file;
  transport.tls.server_name = endpoint.server_name;
  transport.tls.client_cert_file = endpoint.client_cert_file;
  transport.tls.client_key_file = endpoint.client_key_file;
  transport.tls.verify_peer = endpoint.verify_peer;
  transport.connect_timeout_ms = endpoint.connect_timeout_ms;
  transport.handshake_timeout_ms = endpoint.handshake_timeout_ms;
  transport.silence_limit_ms = endpoint.EffectiveSilenceLimitMs();
  auto pump = port::TlsPump::Connect(transport);
  if (!pump.ok()) {
    // Connect, TLS verification and handshake failures happen before AMQP: a transport failure,
    // worth retrying with back-off (a certificate or DNS fix needs no agent restart). Config
    // errors (kInvalidArgument) leave `failure` empty: the Status says what to fix.
    const Code code = pump.status().code();
    if (failure != nullptr && (code == Code::kUnavailable || code == Code::kTimeout)) {
      failure->scope = CloseScope::kTransport;
      failure->kind = CloseKind::kRetryable;
      failure->reply_text = pump.status().message();
    }
    return pump.status();
  }

  amqp_connection_state_t state = amqp_new_connection();
  if (state == nullptr) return Status::Internal("amqp_new_connection failed (out of memory)");
  amqp_socket_t* socket = amqp_tcp_socket_new(state);
  if (socket == nullptr) {
    amqp_destroy_connection(state);
    return Status::Internal("amqp_tcp_socket_new failed (out of memory)");
  }
  // rabbitmq-c owns the library end from here and closes it in amqp_destroy_connection().
  amqp_tcp_socket_set_sockfd(socket, (*pump)->ReleaseLibraryFd());

  std::unique_ptr<Connection> conn(
      new Connection(endpoint.Url(), std::move(pump).value(), state, endpoint.rpc_timeout_ms));
  Status login = conn->Login(endpoint);
  if (!login.ok()) {
    if (failure != nullptr) *failure = conn->last_failure();
    return login;  // the destructor tears the half-open connection down
  }
  return conn;
}

Connection::Connection(std::string url, std::unique_ptr<port::TlsPump> pump,
                       amqp_connection_state_t state, int rpc_timeout_ms)
    : url_(std::move(url)),
      description_(url_ + " (" + pump->session_description() + ")"),
      pump_(std::move(pump)),
      state_(state),
      rpc_timeout_ms_(rpc_timeout_ms) {}

Connection::~Connection() { (void)Close(); }

Status Connection::Login(const Endpoint& endpoint) {
  timeval login_timeout = ToTimeval(endpoint.login_timeout_ms);
  amqp_set_handshake_timeout(state_, &login_timeout);
  if (rpc_timeout_ms_ > 0) {
    timeval rpc_timeout = ToTimeval(rpc_timeout_ms_);
    amqp_set_rpc_timeout(state_, &rpc_timeout);
  }

  // Capabilities are promises: we handle each of these server-initiated methods. Without
  // "connection.blocked" RabbitMQ never tells us it stopped reading our publishes.
  amqp_table_entry_t capabilities[] = {
      BoolEntry("connection.blocked"),
      BoolEntry("publisher_confirms"),
      BoolEntry("basic.nack"),
      BoolEntry("consumer_cancel_notify"),
      BoolEntry("authentication_failure_close"),
  };
  std::vector<amqp_table_entry_t> props;
  props.push_back(TextEntry("product", "edge-agent"));
  props.push_back(TextEntry("information", "edge-agent (rabbitmq-c 0.11, mbedTLS 2.28)"));
  if (!endpoint.connection_name.empty()) {
    props.push_back(TextEntry("connection_name", endpoint.connection_name.c_str()));
  }
  amqp_table_entry_t caps{};
  caps.key = amqp_cstring_bytes("capabilities");
  caps.value.kind = AMQP_FIELD_KIND_TABLE;
  caps.value.value.table.num_entries = static_cast<int>(std::size(capabilities));
  caps.value.value.table.entries = capabilities;
  props.push_back(caps);
  amqp_table_t properties{static_cast<int>(props.size()), props.data()};

  amqp_rpc_reply_t reply;
  if (endpoint.auth == AuthMechanism::kExternal) {
    reply = amqp_login_with_properties(state_, endpoint.vhost.c_str(), 0, kFrameMaxBytes,
                                       endpoint.heartbeat_s, &properties, AMQP_SASL_METHOD_EXTERNAL,
                                       endpoint.external_identity.c_str());
  } else {
    reply = amqp_login_with_properties(state_, endpoint.vhost.c_str(), 0, kFrameMaxBytes,
                                       endpoint.heartbeat_s, &properties, AMQP_SASL_METHOD_PLAIN,
                                       endpoint.user.c_str(), endpoint.password.c_str());
  }
  phase_ = Phase::kLogin;
  EDGE_RETURN_IF_ERROR(CheckReply(
      reply,
      "login as '" +
          (endpoint.auth == AuthMechanism::kPlain ? endpoint.user : std::string("<certificate>")) +
          "'"));
  connection_open_ = true;
  phase_ = Phase::kOpen;

  amqp_channel_open(state_, kChannel);
  EDGE_RETURN_IF_ERROR(CheckLastRpc("channel.open"));
  channel_open_ = true;
  return Status::Ok();
}

Status Connection::CheckReply(const amqp_rpc_reply_t& reply, const std::string& what) {
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) return Status::Ok();
  return Fail(FailureFromReply(reply, phase_), what);
}

Status Connection::CheckLastRpc(const std::string& what) {
  return CheckReply(amqp_get_rpc_reply(state_), what);
}

Status Connection::CheckLibraryStatus(int amqp_status, const std::string& what) {
  if (amqp_status == AMQP_STATUS_OK) return Status::Ok();
  return Fail(FailureFromLibraryStatus(amqp_status), what);
}

Status Connection::HandleBrokerClose(const amqp_method_t& method, const std::string& what) {
  return Fail(FailureFromCloseMethod(method, phase_), what);
}

Status Connection::Fail(AmqpFailure failure, const std::string& what) {
  // Answer the broker's close so the connection stays spec-conformant: a closed channel can be
  // reopened only after close-ok, and the broker waits for connection.close-ok before closing.
  if (failure.scope == CloseScope::kChannel) {
    amqp_channel_close_ok_t ok{};
    (void)amqp_send_method(state_, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    channel_open_ = false;
  } else if (failure.scope == CloseScope::kConnection) {
    amqp_connection_close_ok_t ok{};
    (void)amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    connection_open_ = false;
    channel_open_ = false;
  } else if (failure.scope == CloseScope::kTransport) {
    connection_open_ = false;
    channel_open_ = false;
  }
  Status status = FailureToStatus(failure, what + " on " + url_);
  last_failure_ = std::move(failure);
  // rabbitmq-c only saw its socket close; the pump knows why (it records that before closing).
  Status transport = pump_->status();
  if (last_failure_.scope == CloseScope::kTransport && !transport.ok() &&
      transport.code() != Code::kShuttingDown) {
    return Status(status.code(), status.message() + "; transport: " + transport.message());
  }
  return status;
}

Status Connection::ReopenChannel() {
  if (!usable()) {
    return Status::FailedPrecondition("channel.open on " + url_ +
                                      ": the connection is closed; reconnect instead");
  }
  if (channel_open_) return Status::Ok();
  amqp_channel_open(state_, kChannel);
  EDGE_RETURN_IF_ERROR(CheckLastRpc("channel.open"));
  channel_open_ = true;
  return Status::Ok();
}

Status Connection::Close() {
  if (state_ == nullptr) return Status::Ok();
  Status result;
  if (usable()) {
    int bound = rpc_timeout_ms_ > 0 ? std::min(rpc_timeout_ms_, kCloseTimeoutMs) : kCloseTimeoutMs;
    timeval tv = ToTimeval(bound);
    amqp_set_rpc_timeout(state_, &tv);
    if (channel_open_) {
      result =
          CheckReply(amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS), "channel.close");
      channel_open_ = false;
    }
    if (connection_open_) {
      Status s = CheckReply(amqp_connection_close(state_, AMQP_REPLY_SUCCESS), "connection.close");
      if (result.ok()) result = s;
      connection_open_ = false;
    }
  }
  // Closes the library end of the socketpair; the pump then flushes, sends close_notify and ends.
  amqp_destroy_connection(state_);
  state_ = nullptr;
  pump_->Stop();
  return result;
}

bool Connection::usable() const {
  return state_ != nullptr && connection_open_ && !pump_->stopped();
}

int Connection::negotiated_heartbeat_s() const {
  return state_ != nullptr ? amqp_get_heartbeat(state_) : 0;
}

}  // namespace edge::amqp
