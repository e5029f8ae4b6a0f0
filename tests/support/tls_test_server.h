// TlsTestServer: `openssl s_server` on a free loopback port presenting a chosen certificate.
//
// For the tests where the client must refuse the server before any AMQP byte is sent (expired
// certificate, unknown CA): the server only needs to get through the first half of a TLS
// handshake, so a real broker is not required. Started and stopped by process id.
//
// Thread-safety: none; the test thread owns it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "port/status.h"
#include "tests/support/child_process.h"

namespace edge::test {

class TlsTestServer {
 public:
  // `work_dir` receives the server's output file.
  static Result<std::unique_ptr<TlsTestServer>> Start(const std::string& cert_file,
                                                      const std::string& key_file,
                                                      const std::string& work_dir);
  ~TlsTestServer() { child_.Stop(std::chrono::seconds(5)); }

  uint16_t port() const { return port_; }
  const std::string& output_file() const { return output_file_; }

 private:
  TlsTestServer() = default;
  uint16_t port_ = 0;
  std::string output_file_;
  ChildProcess child_;
};

}  // namespace edge::test
