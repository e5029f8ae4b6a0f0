// TLS settings for the broker transport (client side, mbedTLS 2.28, TLS 1.2).
//
// Secure by default: a default-constructed TlsOptions verifies the server certificate against
// ca_file and checks that it names the host. Turning verification off is an explicit, visible
// choice (verify_peer = false), never a fallback.
#pragma once

#include <string>

namespace edge::port {

struct TlsOptions {
  // PEM file with the CA certificate(s) that sign the broker's certificate. Required when
  // verify_peer is true.
  std::string ca_file;
  // Name the server certificate must carry (CN or a DNS subjectAltName) and the SNI sent in the
  // ClientHello. Empty: the host we connect to. Set it when connecting by IP address: mbedTLS 2.28
  // matches DNS names only, not IP subjectAltNames.
  std::string server_name;
  // Optional client certificate and its private key (PEM), presented when the broker asks for one
  // (SASL EXTERNAL login). Both or neither.
  std::string client_cert_file;
  std::string client_key_file;
  // Verify the server certificate chain, validity dates and host name. Only an explicit config
  // value may turn this off.
  bool verify_peer = true;
};

// Whether a transport speaks TLS. Plaintext is only ever used when a config asks for it.
enum class TransportSecurity { kTls, kPlaintext };

}  // namespace edge::port
