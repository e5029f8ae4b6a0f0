#include "port/cert_info.h"

#include <mbedtls/error.h>
#include <mbedtls/x509_crt.h>

#include <ctime>

namespace edge::port {

Result<int64_t> CertificateDaysLeft(const std::string& pem_path) {
  mbedtls_x509_crt crt;
  mbedtls_x509_crt_init(&crt);
  int rc = mbedtls_x509_crt_parse_file(&crt, pem_path.c_str());
  if (rc != 0) {
    char buf[160];
    mbedtls_strerror(rc, buf, sizeof(buf));
    mbedtls_x509_crt_free(&crt);
    return Status::InvalidArgument("certificate " + pem_path + ": " + buf);
  }
  struct tm t = {};
  t.tm_year = crt.valid_to.year - 1900;
  t.tm_mon = crt.valid_to.mon - 1;
  t.tm_mday = crt.valid_to.day;
  t.tm_hour = crt.valid_to.hour;
  t.tm_min = crt.valid_to.min;
  t.tm_sec = crt.valid_to.sec;
  mbedtls_x509_crt_free(&crt);
  time_t expires = timegm(&t);
  time_t now = std::time(nullptr);
  return static_cast<int64_t>((expires - now) / 86400);
}

}  // namespace edge::port
