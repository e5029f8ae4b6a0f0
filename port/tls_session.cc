#include "port/tls_session.h"

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/x509.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "port/tcp_socket.h"

namespace edge::port {
namespace {

using Clock = std::chrono::steady_clock;

std::string MbedtlsText(int ret) {
  char buf[160] = {0};
  mbedtls_strerror(ret, buf, sizeof(buf));
  return buf;
}

// TLS 1.2 alert descriptions (RFC 5246 section 7.2, RFC 8446 for certificate_required).
const char* AlertName(int code) {
  // One line per name reads as a table.
  // clang-format off
  switch (code) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 22: return "record_overflow";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 109: return "missing_extension";
    case 112: return "unrecognized_name";
    case 116: return "certificate_required";
    default: return "unknown alert";
  }
  // clang-format on
}

bool IsCertificateAlert(int code) {
  return (code >= 42 && code <= 46) || code == 48 || code == 49 || code == 116;
}

// Short words for the verification flags an operator most often meets, most specific first; the
// full mbedTLS text follows in parentheses.
std::string SummarizeVerifyFlags(uint32_t flags, const std::string& expected_name) {
  std::string words;
  auto add = [&words](const std::string& w) {
    if (!words.empty()) words += ", ";
    words += w;
  };
  if (flags & MBEDTLS_X509_BADCERT_EXPIRED) add("certificate expired");
  if (flags & MBEDTLS_X509_BADCERT_FUTURE) add("certificate not valid yet (check the clock)");
  if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
    add("not trusted: signed by an unknown CA (not in ca_file)");
  }
  if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
    add("host name mismatch: the certificate's CN/SAN does not name '" + expected_name + "'");
  }
  if (flags & MBEDTLS_X509_BADCERT_REVOKED) add("certificate revoked");
  if (flags & (MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE)) {
    add("certificate not meant for a TLS server (key usage)");
  }
  if (words.empty()) words = "certificate verification failed";

  char info[512] = {0};
  int n = mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
  std::string details = n > 0 ? std::string(info, static_cast<size_t>(n)) : std::string();
  for (auto& c : details) {
    if (c == '\n') c = ';';
  }
  while (!details.empty() && (details.back() == ';' || details.back() == ' ')) details.pop_back();
  if (!details.empty()) words += " (mbedTLS: " + details + ")";
  return words;
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace

TlsSession::TlsSession(std::string endpoint, std::string expected_name, int fd)
    : endpoint_(std::move(endpoint)), expected_name_(std::move(expected_name)), fd_(fd) {
  mbedtls_entropy_init(&entropy_);
  mbedtls_ctr_drbg_init(&drbg_);
  mbedtls_x509_crt_init(&ca_chain_);
  mbedtls_x509_crt_init(&client_cert_);
  mbedtls_pk_init(&client_key_);
  mbedtls_ssl_config_init(&config_);
  mbedtls_ssl_init(&ssl_);
}

TlsSession::~TlsSession() {
  // Reverse order of dependency: the SSL context refers to the config, which refers to the rest.
  mbedtls_ssl_free(&ssl_);
  mbedtls_ssl_config_free(&config_);
  mbedtls_pk_free(&client_key_);
  mbedtls_x509_crt_free(&client_cert_);
  mbedtls_x509_crt_free(&ca_chain_);
  mbedtls_ctr_drbg_free(&drbg_);
  mbedtls_entropy_free(&entropy_);
}

Result<std::unique_ptr<TlsSession>> TlsSession::Create(const TlsOptions& options,
                                                       const std::string& host, uint16_t port,
                                                       int fd) {
  const std::string expected = options.server_name.empty() ? host : options.server_name;
  std::unique_ptr<TlsSession> session(new TlsSession(EndpointName(host, port), expected, fd));
  EDGE_RETURN_IF_ERROR(session->Configure(options));
  return session;
}

Status TlsSession::Configure(const TlsOptions& options) {
  const std::string where = "TLS setup for " + endpoint_;
  static const char kPersonalization[] = "edge-agent tls";
  int ret = mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_,
                                  reinterpret_cast<const unsigned char*>(kPersonalization),
                                  sizeof(kPersonalization) - 1);
  if (ret != 0) return Status::Internal(where + ": seeding the RNG failed: " + MbedtlsText(ret));

  ret = mbedtls_ssl_config_defaults(&config_, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
  if (ret != 0) return Status::Internal(where + ": " + MbedtlsText(ret));
  // TLS 1.2 is the floor (and, with Debian's mbedTLS 2.28, also the ceiling).
  mbedtls_ssl_conf_min_version(&config_, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_rng(&config_, mbedtls_ctr_drbg_random, &drbg_);

  if (options.verify_peer) {
    if (options.ca_file.empty()) {
      return Status::InvalidArgument(where + ": ca_file is required when verify_peer is on");
    }
    ret = mbedtls_x509_crt_parse_file(&ca_chain_, options.ca_file.c_str());
    if (ret < 0) {
      return Status::InvalidArgument(where + ": cannot load ca_file " + options.ca_file + ": " +
                                     MbedtlsText(ret));
    }
    if (ret > 0) {
      return Status::InvalidArgument(where + ": ca_file " + options.ca_file + ": " +
                                     std::to_string(ret) + " certificate(s) could not be parsed");
    }
    mbedtls_ssl_conf_ca_chain(&config_, &ca_chain_, nullptr);
    mbedtls_ssl_conf_authmode(&config_, MBEDTLS_SSL_VERIFY_REQUIRED);
  } else {
    mbedtls_ssl_conf_authmode(&config_, MBEDTLS_SSL_VERIFY_NONE);
  }

  if (options.client_cert_file.empty() != options.client_key_file.empty()) {
    return Status::InvalidArgument(where +
                                   ": client_cert_file and client_key_file go together: set both "
                                   "or neither");
  }
  if (!options.client_cert_file.empty()) {
    ret = mbedtls_x509_crt_parse_file(&client_cert_, options.client_cert_file.c_str());
    if (ret != 0) {
      return Status::InvalidArgument(where + ": cannot load client_cert_file " +
                                     options.client_cert_file + ": " + MbedtlsText(ret));
    }
    // The key's content never appears in messages; only its path does.
    ret = mbedtls_pk_parse_keyfile(&client_key_, options.client_key_file.c_str(), nullptr);
    if (ret != 0) {
      return Status::InvalidArgument(where + ": cannot load client_key_file " +
                                     options.client_key_file + ": " + MbedtlsText(ret));
    }
    ret = mbedtls_ssl_conf_own_cert(&config_, &client_cert_, &client_key_);
    if (ret != 0) {
      return Status::InvalidArgument(
          where + ": client certificate and key do not fit: " + MbedtlsText(ret));
    }
    sent_client_cert_ = true;
  }

  ret = mbedtls_ssl_setup(&ssl_, &config_);
  if (ret != 0) return Status::Internal(where + ": " + MbedtlsText(ret));
  // Sets both the SNI extension and the name checked against the certificate's CN/SAN.
  ret = mbedtls_ssl_set_hostname(&ssl_, expected_name_.c_str());
  if (ret != 0) return Status::InvalidArgument(where + ": bad server name: " + MbedtlsText(ret));
  mbedtls_ssl_set_bio(&ssl_, this, &TlsSession::SendCallback, &TlsSession::RecvCallback, nullptr);
  return Status::Ok();
}

int TlsSession::SendCallback(void* ctx, const unsigned char* buf, size_t len) {
  auto* self = static_cast<TlsSession*>(ctx);
  for (;;) {
    // MSG_NOSIGNAL: a broker that went away must give EPIPE, not kill the daemon with SIGPIPE.
    ssize_t n = ::send(self->fd_, buf, len, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
    self->last_errno_ = errno;
    if (errno == EPIPE || errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_SEND_FAILED;
  }
}

int TlsSession::RecvCallback(void* ctx, unsigned char* buf, size_t len) {
  auto* self = static_cast<TlsSession*>(ctx);
  for (;;) {
    ssize_t n = ::recv(self->fd_, buf, len, 0);
    if (n > 0) {
      for (size_t i = 0; i < static_cast<size_t>(n) && self->first_bytes_len_ < 4; ++i) {
        self->first_bytes_[self->first_bytes_len_++] = buf[i];
      }
      return static_cast<int>(n);
    }
    if (n == 0) return 0;  // EOF: mbedTLS reports MBEDTLS_ERR_SSL_CONN_EOF
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
    self->last_errno_ = errno;
    if (errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_RECV_FAILED;
  }
}

std::string TlsSession::ExplainAlert(int code) const {
  std::string text = "the server sent TLS alert: " + std::string(AlertName(code)) + " (" +
                     std::to_string(code) + ")";
  if (IsCertificateAlert(code)) {
    text += sent_client_cert_
                ? "; the broker rejected our client certificate (is it signed by a CA the "
                  "broker trusts, and still valid?)"
                : "; the broker requires a client certificate it trusts";
  }
  return text;
}

int TlsSession::TakeUnreadAlert() {
  // A server that refuses our certificate sends its alert and closes at once; our remaining
  // handshake records then meet a closed socket, the kernel answers with a reset, and our send
  // fails before mbedTLS ever reads the alert. The alert is still queued for reading (Linux
  // returns queued data before the reset), and at this point of the handshake it is plaintext:
  //   type 0x15 | version 0x03 0x0N | length 0x00 0x02 | level | description
  unsigned char buf[256];
  ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
  for (ssize_t i = 0; i + 7 <= n; ++i) {
    if (buf[i] == 0x15 && buf[i + 1] == 0x03 && buf[i + 3] == 0x00 && buf[i + 4] == 0x02 &&
        buf[i + 5] == 0x02 /* fatal */) {
      return buf[i + 6];
    }
  }
  return -1;
}

std::string TlsSession::ExplainError(int ret) const {
  switch (ret) {
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
      return "server certificate rejected: " +
             SummarizeVerifyFlags(mbedtls_ssl_get_verify_result(&ssl_), expected_name_);
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
      // mbedTLS 2.28 keeps the alert record in the (public) in_msg buffer: byte 0 is the level,
      // byte 1 the description. There is no accessor for it in this version.
      return ExplainAlert(ssl_.in_msg != nullptr ? ssl_.in_msg[1] : -1);
    case MBEDTLS_ERR_SSL_CONN_EOF:
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
      if (first_bytes_len_ >= 4 && std::memcmp(first_bytes_, "AMQP", 4) == 0) {
        return "the server answered in plaintext AMQP, not TLS: this is a plaintext port "
               "(refusing to continue without TLS)";
      }
      return "connection closed by the server";
    case MBEDTLS_ERR_NET_CONN_RESET:
      return "connection reset by peer";
    case MBEDTLS_ERR_NET_SEND_FAILED:
    case MBEDTLS_ERR_NET_RECV_FAILED:
      return std::string("socket error: ") + std::strerror(last_errno_);
    default:
      break;
  }
  if (first_bytes_len_ >= 4 && std::memcmp(first_bytes_, "AMQP", 4) == 0) {
    return "the server answered in plaintext AMQP, not TLS: this is a plaintext port "
           "(refusing to continue without TLS)";
  }
  if (ret == MBEDTLS_ERR_SSL_INVALID_RECORD || ret == MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION ||
      ret == MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE) {
    return "the server does not speak TLS 1.2 on this port (mbedTLS: " + MbedtlsText(ret) + ")";
  }
  return "mbedTLS: " + MbedtlsText(ret);
}

Status TlsSession::Handshake(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string where = "TLS handshake with " + endpoint_;
  for (;;) {
    int ret = mbedtls_ssl_handshake(&ssl_);
    if (ret == 0) return Status::Ok();
    short events = 0;
    if (ret == MBEDTLS_ERR_SSL_WANT_READ) events = POLLIN;
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) events = POLLOUT;
    if (events == 0) {
      if (ret == MBEDTLS_ERR_NET_CONN_RESET || ret == MBEDTLS_ERR_NET_SEND_FAILED ||
          ret == MBEDTLS_ERR_SSL_CONN_EOF) {
        int alert = TakeUnreadAlert();
        if (alert >= 0) return Status::Unavailable(where + " failed: " + ExplainAlert(alert));
      }
      return Status::Unavailable(where + " failed: " + ExplainError(ret));
    }
    int left = RemainingMs(deadline);
    if (left == 0) {
      return Status::Timeout(where + ": no answer within " + std::to_string(timeout_ms) +
                             " ms (is this a TLS port?)");
    }
    pollfd p{fd_, events, 0};
    int n = ::poll(&p, 1, left);
    if (n < 0 && errno != EINTR) {
      return Status::Internal(where + ": poll failed: " + std::strerror(errno));
    }
  }
}

Result<IoResult> TlsSession::Read(uint8_t* buf, size_t n) {
  int ret = mbedtls_ssl_read(&ssl_, buf, n);
  if (ret > 0) return IoResult{IoOutcome::kDone, static_cast<size_t>(ret)};
  if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == MBEDTLS_ERR_SSL_CONN_EOF) {
    return IoResult{IoOutcome::kClosed, 0};
  }
  if (ret == MBEDTLS_ERR_SSL_WANT_READ) return IoResult{IoOutcome::kWantRead, 0};
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) return IoResult{IoOutcome::kWantWrite, 0};
  return Status::Unavailable("TLS session with " + endpoint_ + " failed: " + ExplainError(ret));
}

Result<IoResult> TlsSession::Write(const uint8_t* buf, size_t n) {
  int ret = mbedtls_ssl_write(&ssl_, buf, n);
  if (ret > 0) return IoResult{IoOutcome::kDone, static_cast<size_t>(ret)};
  if (ret == MBEDTLS_ERR_SSL_WANT_READ) return IoResult{IoOutcome::kWantRead, 0};
  if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) return IoResult{IoOutcome::kWantWrite, 0};
  return Status::Unavailable("TLS session with " + endpoint_ + " failed: " + ExplainError(ret));
}

size_t TlsSession::BytesAvailable() const { return mbedtls_ssl_get_bytes_avail(&ssl_); }

void TlsSession::SendCloseNotify() { (void)mbedtls_ssl_close_notify(&ssl_); }

std::string TlsSession::Describe() const {
  const char* version = mbedtls_ssl_get_version(&ssl_);
  const char* suite = mbedtls_ssl_get_ciphersuite(&ssl_);
  return std::string(version ? version : "?") + " " + (suite ? suite : "?");
}

}  // namespace edge::port
