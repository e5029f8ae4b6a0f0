// Endpoint: everything needed to reach and log in to one RabbitMQ broker.
//
// Plain data, filled by the config layer. Secure by default: TLS on, certificate and host-name
// verification on. The password is a secret: Url() and every message built from an Endpoint
// leave it out.
#pragma once

#include <cstdint>
#include <string>

#include "port/tls_config.h"

namespace edge::amqp {

enum class AuthMechanism {
  kPlain,     // user + password
  kExternal,  // the broker takes the user name from our client certificate (CN)
};

struct Endpoint {
  std::string host;
  uint16_t port = 5671;
  std::string vhost = "/";

  // TLS unless the config explicitly says plaintext; never a fallback.
  port::TransportSecurity security = port::TransportSecurity::kTls;
  std::string ca_file;
  std::string server_name;  // certificate name to expect (and SNI); empty: `host`
  std::string client_cert_file;
  std::string client_key_file;
  bool verify_peer = true;

  AuthMechanism auth = AuthMechanism::kPlain;
  std::string user;      // PLAIN
  std::string password;  // PLAIN; secret, never logged
  // SASL EXTERNAL response. RabbitMQ ignores its content (the user is the certificate's CN), but
  // rabbitmq-c 0.11 fails on an empty string, so it must not be empty.
  std::string external_identity = "edge-agent";

  // Proposed AMQP heartbeat; the broker may lower it. 0 disables heartbeats (not advised).
  int heartbeat_s = 30;
  int connect_timeout_ms = 10000;    // TCP connect
  int handshake_timeout_ms = 10000;  // TLS handshake
  int login_timeout_ms = 15000;      // AMQP handshake + login (rabbitmq-c handshake timeout)
  // Upper bound for each synchronous AMQP method (declare, close...). rabbitmq-c closes the
  // connection when it expires. 0: no bound (the watchdog still applies).
  int rpc_timeout_ms = 30000;
  // No byte from the broker for this long and the transport is closed. 0: derived as 2.5
  // heartbeat intervals (off when heartbeats are off).
  int silence_limit_ms = 0;
  // Shown in the broker's management UI ("connection_name" client property). Optional.
  std::string connection_name;

  // "amqps://host:port/vhost" (or amqp:// for plaintext); no user, no password.
  std::string Url() const;
  // The watchdog limit actually used: silence_limit_ms or the derived value.
  int EffectiveSilenceLimitMs() const;
};

}  // namespace edge::amqp
