// Connection: one logged-in AMQP 0-9-1 connection (rabbitmq-c 0.11) with channel 1 open.
//
// A thin wrapper: the publisher and the worker drive rabbitmq-c directly through state() and use
// this class for what every user needs the same way:
//   - Connect(): TLS (or explicitly configured plaintext) transport through port::TlsPump, then
//     amqp_login_with_properties() announcing the capabilities we handle (connection.blocked,
//     publisher_confirms, basic.nack, consumer_cancel_notify, authentication_failure_close), then
//     channel.open on channel kChannel.
//   - Check...(): turns rabbitmq-c results into a Status with the AMQP reply code and text and
//     records an AmqpFailure (close_reason.h) whose CloseKind says retry / stop the route / stop
//     the endpoint. A broker channel.close or connection.close is answered with close-ok here,
//     so the connection is always left in a state the AMQP spec allows.
//   - When the transport failed (watchdog, TLS error, reset) the Status says so in the pump's
//     words ("broker 10.0.0.5:5671 silent for 75 s ...") rather than rabbitmq-c's generic text.
//
// Lifetime: a Connection that failed (usable() false) is not repaired; destroy it and Connect()
// again. A channel closed by the broker can be reopened with ReopenChannel().
//
// Thread-safety: rabbitmq-c connection state is single-threaded: state() and every method except
// transport_status() must be used by one thread at a time (normally the publisher's or worker's
// thread). transport_status() may be read from any thread.
#pragma once

#include <amqp.h>

#include <memory>
#include <string>

#include "agent/amqp/close_reason.h"
#include "agent/amqp/endpoint.h"
#include "port/status.h"
#include "port/tls_pump.h"

namespace edge::amqp {

class Connection {
 public:
  static constexpr amqp_channel_t kChannel = 1;
  // Largest frame we accept; 128 KiB is RabbitMQ's default and keeps buffers small.
  static constexpr int kFrameMaxBytes = 131072;

  // Connects, logs in and opens channel kChannel. Errors:
  //   kInvalidArgument   the endpoint config is unusable (names the field)
  //   kUnavailable       connect/TLS failure (with mbedTLS's reason) or connection lost
  //   kTimeout           TCP connect, TLS handshake or login took too long
  //   kPermissionDenied  the broker refused the credentials or the vhost ([auth_refused])
  // `failure` (optional) receives the classified AMQP failure when there was one.
  static Result<std::unique_ptr<Connection>> Connect(const Endpoint& endpoint,
                                                     AmqpFailure* failure = nullptr);

  // Closes politely (bounded by a short RPC timeout and the watchdog) and stops the transport.
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // The rabbitmq-c connection. Valid for this object's life; do not destroy it.
  amqp_connection_state_t state() const { return state_; }

  // Maps an RPC result (e.g. amqp_get_rpc_reply() after amqp_queue_declare()) to a Status,
  // "<what> on <url>: ...", and records last_failure(). OK for AMQP_RESPONSE_NORMAL.
  Status CheckReply(const amqp_rpc_reply_t& reply, const std::string& what);
  // The same for the last RPC on this connection: CheckReply(amqp_get_rpc_reply(state())).
  Status CheckLastRpc(const std::string& what);
  // The same for functions returning an amqp_status_enum (amqp_basic_publish, ...).
  Status CheckLibraryStatus(int amqp_status, const std::string& what);
  // For a connection.close / channel.close received as a frame (amqp_simple_wait_frame...):
  // answers it with close-ok and returns the classified Status.
  Status HandleBrokerClose(const amqp_method_t& method, const std::string& what);

  // After the broker closed channel kChannel: opens it again. kFailedPrecondition when the
  // connection itself is gone.
  Status ReopenChannel();

  // Closes channel and connection politely. Idempotent; the destructor calls it.
  Status Close();

  // False once the connection closed or its transport stopped.
  bool usable() const;
  bool channel_open() const { return channel_open_; }
  const AmqpFailure& last_failure() const { return last_failure_; }
  // The pump's view: OK while it runs, then why it stopped.
  Status transport_status() const { return pump_->status(); }
  // "amqps://host:port/vhost (TLSv1.2 <suite>)": safe to log.
  const std::string& description() const { return description_; }
  // The heartbeat the broker agreed to (seconds, 0 = none).
  int negotiated_heartbeat_s() const;

 private:
  Connection(std::string url, std::unique_ptr<port::TlsPump> pump, amqp_connection_state_t state,
             int rpc_timeout_ms);
  Status Login(const Endpoint& endpoint);
  // Records `failure`, answers broker closes, and builds the Status (with the transport's reason
  // when the transport is what failed).
  Status Fail(AmqpFailure failure, const std::string& what);

  const std::string url_;  // no secrets
  std::string description_;
  std::unique_ptr<port::TlsPump> pump_;
  amqp_connection_state_t state_ = nullptr;
  const int rpc_timeout_ms_;
  Phase phase_ = Phase::kLogin;
  bool connection_open_ = false;  // logged in and not closed by either side
  bool channel_open_ = false;
  AmqpFailure last_failure_;
};

}  // namespace edge::amqp
