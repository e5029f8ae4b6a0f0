// Checks of the files a config refers to, done at load time so a wrong path or mode is found by
// `check-config` and at start, not at the first connect minutes later. The password is read
// here and nowhere else; its content never reaches a message.
#include <cstdio>
#include <memory>
#include <string>

#include "config/internal.h"

namespace edge::config {
namespace {

// A password file is a few bytes; anything much larger is the wrong file.
constexpr uint64_t kMaxPasswordFileBytes = 4096;

std::string Octal(uint32_t mode) {
  char buf[16];
  (void)std::snprintf(buf, sizeof(buf), "%04o", mode & 07777u);
  return buf;
}

class FileChecker {
 public:
  FileChecker(const FileProbe* probe, Diagnostics* diag) : probe_(probe), diag_(diag) {}

  // A regular file this process can read. Fills *info when given.
  bool Readable(const std::string& field, const std::string& path, FileInfo* info = nullptr) {
    Result<FileInfo> r = probe_->Inspect(path);
    if (!r.ok()) {
      diag_->Error(field, path + ": " + r.status().message());
      return false;
    }
    if (!r->regular) {
      diag_->Error(field, path + ": not a regular file");
      return false;
    }
    if (!r->readable) {
      diag_->Error(field, path +
                              ": the agent's user cannot read it; check its owner and mode "
                              "(mode " +
                              Octal(r->mode) + ")");
      return false;
    }
    if (info != nullptr) *info = r.value();
    return true;
  }

  // A file holding a secret: refused when other users may read or write it.
  bool Private(const std::string& field, const std::string& path, const FileInfo& info,
               const char* what) {
    if ((info.mode & 0006) == 0) return true;
    const char* how = (info.mode & 0004) != 0 ? "readable" : "writable";
    diag_->Error(field, path + ": " + what + " is " + how + " by other users (mode " +
                            Octal(info.mode) + "); refusing to use it. Fix: chmod 600 " + path +
                            " (or chmod 640 with a group the agent's user is in)");
    return false;
  }

  bool Executable(const std::string& field, const std::string& path) {
    Result<FileInfo> r = probe_->Inspect(path);
    if (!r.ok()) {
      diag_->Error(field, path + ": " + r.status().message());
      return false;
    }
    if (!r->regular) {
      diag_->Error(field, path + ": not a regular file");
      return false;
    }
    if (!r->executable) {
      diag_->Error(field, path + ": not executable by the agent's user (mode " + Octal(r->mode) +
                              "); chmod +x it or fix its owner");
      return false;
    }
    return true;
  }

 private:
  const FileProbe* probe_;
  Diagnostics* diag_;
};

// Reads the password: the whole file minus one trailing newline ("\n" or "\r\n"), as written by
// `echo secret > file` or an editor.
void ReadPassword(port::FileSystem* fs, const std::string& field, AuthConfig* auth,
                  Diagnostics* diag) {
  const std::string& path = auth->password_file;
  Result<std::unique_ptr<port::File>> file = fs->Open(path, port::Access::kReadOnly);
  if (!file.ok()) {
    diag->Error(field, file.status().message());
    return;
  }
  Result<uint64_t> size = (*file)->Size();
  if (!size.ok()) {
    diag->Error(field, size.status().message());
    return;
  }
  if (*size > kMaxPasswordFileBytes) {
    diag->Error(field, path + ": " + std::to_string(*size) +
                           " bytes is too large for a password "
                           "file; it must hold only the password");
    return;
  }
  std::string text(*size, '\0');
  if (*size > 0) {
    Status s = (*file)->ReadAt(0, text.data(), text.size());
    if (!s.ok()) {
      diag->Error(field, s.message());
      return;
    }
  }
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (text.empty()) {
    diag->Error(field, path + ": the file is empty; write the broker password into it");
    return;
  }
  if (text.find('\n') != std::string::npos) {
    diag->Error(field, path + ": holds more than one line; it must hold only the password");
    return;
  }
  auth->password = std::move(text);
}

}  // namespace

void CheckFiles(AgentConfig* c, port::FileSystem* fs, const FileProbe* probe, Diagnostics* d) {
  FileChecker check(probe, d);
  const TlsConfig& tls = c->broker.tls;
  if (tls.enabled && !d->Failed("broker.tls")) {
    if (!tls.ca_file.empty()) check.Readable("broker.tls.ca_file", tls.ca_file);
    if (!tls.client_cert_file.empty()) {
      check.Readable("broker.tls.client_cert_file", tls.client_cert_file);
    }
    FileInfo key;
    if (!tls.client_key_file.empty() &&
        check.Readable("broker.tls.client_key_file", tls.client_key_file, &key)) {
      check.Private("broker.tls.client_key_file", tls.client_key_file, key, "the private key");
    }
  }
  AuthConfig& auth = c->broker.auth;
  if (auth.mechanism == amqp::AuthMechanism::kPlain && !auth.password_file.empty() &&
      !d->Failed("broker.auth")) {
    const std::string field = "broker.auth.password_file";
    FileInfo info;
    if (check.Readable(field, auth.password_file, &info) &&
        check.Private(field, auth.password_file, info, "the password file")) {
      ReadPassword(fs, field, &auth, d);
    }
  }
  const WorkerConfig& w = c->worker;
  if (w.enabled && !w.handler.empty() && !w.handler[0].empty() && w.handler[0][0] == '/' &&
      !d->Failed("worker.handler")) {
    check.Executable("worker.handler[0]", w.handler[0]);
  }
}

}  // namespace edge::config
