#include "agent/publish/dead_letter_file.h"

#include <cjson/cJSON.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace edge::publish {
namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

struct JsonDeleter {
  void operator()(cJSON* j) const { cJSON_Delete(j); }
};
using JsonPtr = std::unique_ptr<cJSON, JsonDeleter>;

std::string Str(const cJSON* obj, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(v) && v->valuestring != nullptr ? v->valuestring : "";
}
double Num(const cJSON* obj, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

}  // namespace

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool Base64Decode(std::string_view in, std::string* out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const char* p = std::strchr(kB64, c);
    if (p == nullptr || c == '\0') return false;
    acc = (acc << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

Result<std::unique_ptr<port::File>> DeadLetterFile::CreateSynced(port::FileSystem* fs,
                                                                 const std::string& path) {
  auto f = fs->Create(path);
  if (!f.ok()) return f.status().WithContext("dead-letter file");
  Status s = (*f)->Sync();
  if (s.ok()) s = fs->SyncDir(port::DirName(path));
  if (!s.ok()) return s.WithContext("dead-letter file");
  return f;
}

Result<std::unique_ptr<DeadLetterFile>> DeadLetterFile::Open(port::FileSystem* fs,
                                                             const std::string& path) {
  std::unique_ptr<port::File> file;
  if (fs->Exists(path)) {
    auto f = fs->Open(path, port::Access::kReadWrite);
    if (!f.ok()) return f.status().WithContext("dead-letter file");
    file = std::move(f).value();
  } else {
    auto f = CreateSynced(fs, path);
    if (!f.ok()) return f.status();
    file = std::move(f).value();
  }
  auto size = file->Size();
  if (!size.ok()) return size.status().WithContext("dead-letter file");
  bool clean_end = *size % port::kSectorBytes == 0;
  if (clean_end && *size > 0) {
    char last = 0;
    Status s = file->ReadAt(*size - 1, &last, 1);
    if (!s.ok()) return s.WithContext("dead-letter file");
    clean_end = last == '\n';
  }
  return std::unique_ptr<DeadLetterFile>(
      new DeadLetterFile(fs, path, std::move(file), *size, clean_end));
}

uint64_t DeadLetterFile::entries_written() const {
  std::lock_guard<std::mutex> l(mu_);
  return written_;
}

Result<std::string> DeadLetterFile::MoveAside(uint64_t now_ms) {
  std::lock_guard<std::mutex> l(mu_);
  if (size_ == 0) return std::string();
  std::string moved = path_ + ".requeue-" + std::to_string(now_ms);
  for (int n = 1; fs_->Exists(moved); n++) {
    // Never rename over an earlier moved file: its entries may not be requeued yet.
    moved = path_ + ".requeue-" + std::to_string(now_ms) + "-" + std::to_string(n);
  }
  EDGE_RETURN_IF_ERROR(fs_->Rename(path_, moved).WithContext("dead-letter file: moving aside"));
  auto fresh = CreateSynced(fs_, path_);
  if (!fresh.ok()) {
    // Put it back so appends and the name agree again. Should that fail too, the open file is
    // the moved one: appends still land, synced, where `requeue --file` finds them.
    Status back = fs_->Rename(moved, path_);
    if (back.ok()) back = fs_->SyncDir(port::DirName(path_));
    return fresh.status().WithContext(back.ok() ? "moving aside (undone)"
                                                : "moving aside (left at " + moved + ")");
  }
  file_ = std::move(fresh).value();
  size_ = 0;
  clean_end_ = true;
  return moved;
}

Status DeadLetterFile::Append(const DeadLetter& e) {
  std::lock_guard<std::mutex> l(mu_);
  JsonPtr obj(cJSON_CreateObject());
  cJSON_AddNumberToObject(obj.get(), "time_ms", static_cast<double>(e.time_ms));
  cJSON_AddStringToObject(obj.get(), "agent_id", e.agent_id.c_str());
  cJSON_AddNumberToObject(obj.get(), "seq", static_cast<double>(e.seq));
  cJSON_AddStringToObject(obj.get(), "message_id", e.message_id().c_str());
  cJSON_AddStringToObject(obj.get(), "route", e.route.c_str());
  cJSON_AddStringToObject(obj.get(), "exchange", e.exchange.c_str());
  cJSON_AddStringToObject(obj.get(), "routing_key", e.routing_key.c_str());
  cJSON_AddStringToObject(obj.get(), "reason", e.reason.c_str());
  cJSON_AddNumberToObject(obj.get(), "reply_code", e.reply_code);
  cJSON_AddStringToObject(obj.get(), "reply_text", e.reply_text.c_str());
  cJSON_AddNumberToObject(obj.get(), "attempts", e.attempts);
  cJSON* headers = cJSON_AddObjectToObject(obj.get(), "headers");
  for (const auto& [k, v] : e.headers) cJSON_AddStringToObject(headers, k.c_str(), v.c_str());
  cJSON_AddStringToObject(obj.get(), "content_type", e.content_type.c_str());
  cJSON_AddStringToObject(obj.get(), "payload_base64", Base64Encode(e.payload).c_str());
  char* text = cJSON_PrintUnformatted(obj.get());
  if (text == nullptr) return Status::Internal("dead-letter file: cannot encode entry");
  // After a torn tail the entry needs a line of its own; then the JSON, spaces up to the end of
  // its last sector, and the newline in that sector's last byte.
  std::string line = clean_end_ ? "" : "\n";
  line += text;
  cJSON_free(text);
  const uint64_t end = (line.size() + 1 + port::kSectorBytes - 1) / port::kSectorBytes *
                       port::kSectorBytes;
  line.resize(end - 1, ' ');
  line += '\n';
  // Write from a sector boundary and sync before reporting success: the ring keeps the record
  // until then. The sectors between size_ and start (after a torn tail) are left alone.
  const uint64_t start = (size_ + port::kSectorBytes - 1) / port::kSectorBytes * port::kSectorBytes;
  Status s = file_->WriteAt(start, line.data(), line.size());
  if (s.ok()) s = file_->Sync();
  if (!s.ok()) {
    // Part of the line may be in the file: what follows must start on a fresh line.
    size_ = std::max(size_, start);
    clean_end_ = false;
    return s.WithContext("dead-letter file " + path_);
  }
  size_ = start + line.size();
  clean_end_ = true;
  written_++;
  return Status::Ok();
}

Result<std::vector<DeadLetter>> DeadLetterFile::ReadAll(port::FileSystem* fs,
                                                        const std::string& path) {
  auto f = fs->Open(path, port::Access::kReadOnly);
  if (!f.ok()) return f.status();
  auto size = (*f)->Size();
  if (!size.ok()) return size.status();
  std::string text(*size, '\0');
  if (*size > 0) {
    Status s = (*f)->ReadAt(0, text.data(), text.size());
    if (!s.ok()) return s;
  }
  return Parse(text);
}

std::vector<DeadLetter> DeadLetterFile::Parse(std::string_view text) {
  std::vector<DeadLetter> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) break;  // a torn last line
    std::string line(text.substr(start, nl - start));
    start = nl + 1;
    // The whole line must be one object (plus padding): cJSON_Parse alone would take the
    // leading number of a line of garbage (a torn append) for an entry.
    JsonPtr obj(cJSON_ParseWithLengthOpts(line.c_str(), line.size() + 1, nullptr, true));
    if (!obj || !cJSON_IsObject(obj.get()) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(obj.get(), "message_id")) ||
        !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(obj.get(), "seq"))) {
      continue;  // torn by a power cut mid-append, or the blank end of one
    }
    DeadLetter e;
    e.time_ms = static_cast<uint64_t>(Num(obj.get(), "time_ms"));
    e.agent_id = Str(obj.get(), "agent_id");
    e.seq = static_cast<uint64_t>(Num(obj.get(), "seq"));
    e.route = Str(obj.get(), "route");
    e.exchange = Str(obj.get(), "exchange");
    e.routing_key = Str(obj.get(), "routing_key");
    e.reason = Str(obj.get(), "reason");
    e.reply_code = static_cast<uint16_t>(Num(obj.get(), "reply_code"));
    e.reply_text = Str(obj.get(), "reply_text");
    e.attempts = static_cast<int>(Num(obj.get(), "attempts"));
    e.content_type = Str(obj.get(), "content_type");
    const cJSON* h = cJSON_GetObjectItemCaseSensitive(obj.get(), "headers");
    const cJSON* item = nullptr;
    cJSON_ArrayForEach(item, h) {
      if (cJSON_IsString(item)) e.headers.emplace_back(item->string, item->valuestring);
    }
    if (!Base64Decode(Str(obj.get(), "payload_base64"), &e.payload)) continue;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace edge::publish
