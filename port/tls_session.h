// TlsSession: one mbedTLS 2.28 client session over a connected, non-blocking TCP socket.
//
// It holds every mbedTLS context a session needs (RNG, CA chain, optional client certificate,
// config, SSL context) so they are created and freed together. Create() loads the files and
// configures TLS 1.2 with certificate and host-name verification (unless the options explicitly
// turn verification off); Handshake() completes the handshake within a deadline and turns every
// failure into a Status that says why in words, e.g.
//   "TLS handshake with 127.0.0.1:5671 failed: server certificate rejected: certificate expired
//    (mbedTLS: The certificate validity has expired)"
// After the handshake, Read()/Write() move application bytes without blocking.
//
// Thread-safety: none. The pump thread is the only user after the handshake; the session must not
// outlive the socket it was given.
#pragma once

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "port/status.h"
#include "port/tls_config.h"

namespace edge::port {

// The outcome of one non-blocking read or write.
enum class IoOutcome {
  kDone,       // `bytes` moved (always > 0)
  kWantRead,   // nothing moved; call again when the socket is readable
  kWantWrite,  // nothing moved; call again when the socket is writable
  kClosed,     // the peer ended the session (close_notify or EOF)
};
struct IoResult {
  IoOutcome outcome = IoOutcome::kDone;
  size_t bytes = 0;
};

class TlsSession {
 public:
  // Loads the CA, client certificate and key and prepares a session for `fd` (borrowed: the
  // caller keeps it open for the session's life). `host` is what we connected to; it names the
  // endpoint in messages and is the expected certificate name unless options.server_name is set.
  // kInvalidArgument / kNotFound for unusable options or files (naming the file).
  static Result<std::unique_ptr<TlsSession>> Create(const TlsOptions& options,
                                                    const std::string& host, uint16_t port, int fd);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Runs the TLS handshake to completion or failure within timeout_ms. Failures are kUnavailable
  // (the reason in words: certificate expired, unknown CA, host name mismatch, TLS alert from the
  // server, the port not speaking TLS, connection reset) or kTimeout.
  Status Handshake(int timeout_ms);

  // Non-blocking application I/O. A kWantWrite from Write() must be retried with the same
  // bytes and length (mbedTLS may already have encrypted them).
  Result<IoResult> Read(uint8_t* buf, size_t n);
  Result<IoResult> Write(const uint8_t* buf, size_t n);
  // Decrypted bytes already inside mbedTLS: poll() on the socket cannot see them.
  size_t BytesAvailable() const;
  // Best-effort close_notify alert (one non-blocking attempt).
  void SendCloseNotify();

  // "TLSv1.2 TLS-ECDHE-RSA-WITH-AES-256-GCM-SHA384" once the handshake is done.
  std::string Describe() const;

 private:
  TlsSession(std::string endpoint, std::string expected_name, int fd);
  Status Configure(const TlsOptions& options);
  // Turns an mbedTLS error code from the handshake or I/O into words.
  std::string ExplainError(int ret) const;
  std::string ExplainAlert(int alert_code) const;
  // After the connection broke mid-handshake: the description of a fatal alert the server sent
  // that mbedTLS did not read yet, or -1.
  int TakeUnreadAlert();

  static int SendCallback(void* ctx, const unsigned char* buf, size_t len);
  static int RecvCallback(void* ctx, unsigned char* buf, size_t len);

  const std::string endpoint_;       // "host:port", for messages
  const std::string expected_name_;  // certificate name checked (and SNI)
  const int fd_;                     // borrowed TCP socket
  bool sent_client_cert_ = false;
  int last_errno_ = 0;          // errno of the last failed send/recv, for messages
  size_t first_bytes_len_ = 0;  // the first bytes the server sent, to recognise plaintext AMQP
  unsigned char first_bytes_[4] = {0, 0, 0, 0};

  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
  mbedtls_x509_crt ca_chain_;
  mbedtls_x509_crt client_cert_;
  mbedtls_pk_context client_key_;
  mbedtls_ssl_config config_;
  mbedtls_ssl_context ssl_;
};

}  // namespace edge::port
