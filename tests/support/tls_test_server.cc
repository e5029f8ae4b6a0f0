#include "tests/support/tls_test_server.h"

#include "tests/support/loopback.h"

namespace edge::test {

Result<std::unique_ptr<TlsTestServer>> TlsTestServer::Start(const std::string& cert_file,
                                                            const std::string& key_file,
                                                            const std::string& work_dir) {
  auto port = PickFreePort();
  if (!port.ok()) return port.status();
  std::unique_ptr<TlsTestServer> server(new TlsTestServer());
  server->port_ = *port;
  server->output_file_ = work_dir + "/s_server-" + std::to_string(*port) + ".out";
  SpawnOptions o;
  o.argv = {"/usr/bin/openssl",
            "s_server",
            "-accept",
            "127.0.0.1:" + std::to_string(*port),
            "-cert",
            cert_file,
            "-key",
            key_file,
            "-tls1_2",
            "-quiet"};
  o.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", work_dir}};
  o.output_file = server->output_file_;
  o.hold_stdin_open = true;  // s_server ends its session when stdin reaches EOF
  EDGE_RETURN_IF_ERROR(server->child_.Spawn(o));
  if (!WaitForListener(*port, std::chrono::seconds(20))) {
    return Status::Unavailable("openssl s_server did not listen on " + std::to_string(*port) +
                               ": " + FileTail(server->output_file_));
  }
  return server;
}

}  // namespace edge::test
