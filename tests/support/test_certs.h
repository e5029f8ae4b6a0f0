// TestCertificates: a throw-away PKI generated at test time with the openssl CLI.
//
// Nothing secret is checked in; each run makes fresh keys in its own directory:
//   ca.pem / ca.key                  the test CA the broker and the client trust
//   server.pem / server.key          CN=localhost, SAN DNS:localhost, IP:127.0.0.1 (by the CA)
//   server_expired.pem / .key        same names, by the CA, validity already over
//   rogue_ca.pem / rogue_ca.key      another CA that nobody trusts
//   server_rogue.pem / .key          CN=localhost with the same SANs, signed by the rogue CA
//   client.pem / client.key          CN=<client_cn>, clientAuth, by the CA (SASL EXTERNAL)
//   client_rogue.pem / .key          CN=<client_cn>, signed by the rogue CA (broker must refuse)
#pragma once

#include <string>

#include "port/status.h"

namespace edge::test {

struct TestCertificates {
  std::string dir;
  std::string client_cn;

  std::string Path(const std::string& name) const { return dir + "/" + name; }
  std::string ca() const { return Path("ca.pem"); }
  std::string server_cert() const { return Path("server.pem"); }
  std::string server_key() const { return Path("server.key"); }
  std::string expired_cert() const { return Path("server_expired.pem"); }
  std::string expired_key() const { return Path("server_expired.key"); }
  std::string rogue_server_cert() const { return Path("server_rogue.pem"); }
  std::string rogue_server_key() const { return Path("server_rogue.key"); }
  std::string client_cert() const { return Path("client.pem"); }
  std::string client_key() const { return Path("client.key"); }
  std::string rogue_client_cert() const { return Path("client_rogue.pem"); }
  std::string rogue_client_key() const { return Path("client_rogue.key"); }
};

// Generates the set above into `dir` (which must exist). Takes a few seconds (RSA keys).
Result<TestCertificates> GenerateTestCertificates(const std::string& dir,
                                                  const std::string& client_cn);

}  // namespace edge::test
