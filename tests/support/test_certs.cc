#include "tests/support/test_certs.h"

#include <fstream>
#include <random>
#include <vector>

#include "tests/support/child_process.h"

namespace edge::test {
namespace {

constexpr auto kOpensslTimeout = std::chrono::seconds(60);

struct Openssl {
  std::string dir;
  std::string log;

  Status Run(std::vector<std::string> args) const {
    SpawnOptions o;
    o.argv = {"/usr/bin/openssl"};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = {{"PATH", "/usr/bin:/bin"}, {"HOME", dir}};
    o.output_file = log;
    o.working_dir = dir;
    return RunToCompletion(o, kOpensslTimeout);
  }

  // A self-signed CA certificate.
  Status MakeCa(const std::string& name, const std::string& cn) const {
    return Run({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
                name + ".pem", "-days", "30", "-subj", "/CN=" + cn, "-addext",
                "basicConstraints=critical,CA:TRUE", "-addext",
                "keyUsage=critical,keyCertSign,cRLSign"});
  }

  // A leaf certificate signed by `ca`. days < 0 gives a certificate that already expired.
  Status MakeLeaf(const std::string& name, const std::string& cn, const std::string& ca,
                  const std::string& extensions, int days) const {
    EDGE_RETURN_IF_ERROR(Run({"req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
                              "-out", name + ".csr", "-subj", "/CN=" + cn}));
    const std::string ext_file = dir + "/" + name + ".ext";
    {
      std::ofstream ext(ext_file);
      ext << extensions;
      if (!ext) return Status::IoError("cannot write " + ext_file);
    }
    static std::mt19937_64 rng{std::random_device{}()};
    return Run({"x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                "-set_serial", std::to_string(rng() >> 2), "-days", std::to_string(days),
                "-extfile", ext_file, "-out", name + ".pem"});
  }
};

}  // namespace

Result<TestCertificates> GenerateTestCertificates(const std::string& dir,
                                                  const std::string& client_cn) {
  Openssl ssl{dir, dir + "/openssl.log"};
  const std::string server_ext =
      "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
      "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n";
  const std::string client_ext =
      "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
      "extendedKeyUsage=clientAuth\n";
  EDGE_RETURN_IF_ERROR(ssl.MakeCa("ca", "edge-agent test CA"));
  EDGE_RETURN_IF_ERROR(ssl.MakeCa("rogue_ca", "unknown rogue CA"));
  EDGE_RETURN_IF_ERROR(ssl.MakeLeaf("server", "localhost", "ca", server_ext, 30));
  // -days -1: notAfter is a day before notBefore (now), so the certificate is already expired
  // while everything else about it (CA, names, key usage) is right.
  EDGE_RETURN_IF_ERROR(ssl.MakeLeaf("server_expired", "localhost", "ca", server_ext, -1));
  EDGE_RETURN_IF_ERROR(ssl.MakeLeaf("server_rogue", "localhost", "rogue_ca", server_ext, 30));
  EDGE_RETURN_IF_ERROR(ssl.MakeLeaf("client", client_cn, "ca", client_ext, 30));
  EDGE_RETURN_IF_ERROR(ssl.MakeLeaf("client_rogue", client_cn, "rogue_ca", client_ext, 30));
  return TestCertificates{dir, client_cn};
}

}  // namespace edge::test
