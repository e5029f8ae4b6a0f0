// DeadLetterFile: where payloads the broker would not take end up, so nothing is silent.
//
// A message the broker returned (unroutable: published with `mandatory`, no queue bound) or
// nacked (queue error, `x-overflow: reject-publish`) after the configured retries is written
// here, synced, and only then leaves the ring. Operators inspect it with any JSON tool or
// `edge-agent dead-letters list`, and put its entries back into the flow with `edge-agent
// dead-letters requeue` once the cause is mended (agent/cli/dead_letters_command.cc): the
// running agent moves the file aside (MoveAside) and the command sends each entry again.
//
// Format: JSON Lines, one object per line, appended, each line made durable (fdatasync) before
// Append returns:
//   {"time_ms": 1732480000000,         when it was dead-lettered (Unix ms)
//    "agent_id": "gw-17", "seq": 42, "message_id": "gw-17:42",
//    "route": "telemetry", "exchange": "sensors", "routing_key": "t.room1",
//    "reason": "returned" | "nacked" | "unknown_route" | "undecodable",
//    "reply_code": 312, "reply_text": "NO_ROUTE",   (broker's, 0/"" when local)
//    "attempts": 1,
//    "headers": {"k": "v", ...},        the producer's headers
//    "content_type": "application/json",
//    "payload_base64": "..."}
// Each line is padded with spaces to a whole number of 512-byte sectors (port::kSectorBytes) and
// starts at a sector boundary: an append never writes into a sector that holds an earlier
// entry, so a write torn by a power cut (which can damage the whole sector it touches) cannot
// take a synced entry with it. A line that does not parse (a torn append) is skipped by readers;
// after one, the next entry starts with a newline of its own, so a torn tail without a newline
// (or the zeros up to the next sector) cannot swallow it. Blank or torn lines are therefore
// possible between entries; JSON tools that read whitespace-separated values take the rest.
//
// Thread-safety: Append and MoveAside may be called from any thread (the publisher appends,
// the control server moves the file aside); one mutex orders them, so an entry is either in
// the moved file before it is handed out or in the new file.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "port/file.h"
#include "port/status.h"

namespace edge::publish {

struct DeadLetter {
  uint64_t time_ms = 0;
  std::string agent_id;
  uint64_t seq = 0;
  std::string route;
  std::string exchange;
  std::string routing_key;
  std::string reason;
  uint16_t reply_code = 0;
  std::string reply_text;
  int attempts = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;
  std::string payload;

  // The identity the message carried: "<agent_id>:<seq>".
  std::string message_id() const { return agent_id + ":" + std::to_string(seq); }
};

class DeadLetterFile {
 public:
  // Opens (creating when missing) the file at path for appending.
  static Result<std::unique_ptr<DeadLetterFile>> Open(port::FileSystem* fs,
                                                      const std::string& path);
  // Appends one entry and syncs it. On error nothing may be assumed on disk; the caller keeps
  // the record in the ring and tries again later.
  Status Append(const DeadLetter& entry);
  uint64_t entries_written() const;
  const std::string& path() const { return path_; }

  // Renames the file to PATH.requeue-<now_ms> (a free name: -<n> is added while one is taken)
  // and starts an empty file at PATH, all durable (directory synced) before it returns, so no
  // later Append can reach the moved file. Returns the moved file's name, or "" when there
  // was nothing to move (an empty file). On error the file stays where it was and appends go
  // on into it.
  Result<std::string> MoveAside(uint64_t now_ms);

  // Parses a file's entries, skipping every line that is not one whole entry (torn appends,
  // their blank ends); for tests and tools.
  static Result<std::vector<DeadLetter>> ReadAll(port::FileSystem* fs, const std::string& path);
  // The same for the file's bytes already read.
  static std::vector<DeadLetter> Parse(std::string_view text);

 private:
  DeadLetterFile(port::FileSystem* fs, std::string path, std::unique_ptr<port::File> file,
                 uint64_t size, bool clean_end)
      : fs_(fs), path_(std::move(path)), file_(std::move(file)), size_(size),
        clean_end_(clean_end) {}
  static Result<std::unique_ptr<port::File>> CreateSynced(port::FileSystem* fs,
                                                          const std::string& path);

  port::FileSystem* fs_;
  const std::string path_;
  mutable std::mutex mu_;  // guards everything below
  std::unique_ptr<port::File> file_;
  uint64_t size_;  // the file's end: the next entry starts at the sector boundary at or after it
  // The file ends with a whole entry's newline at a sector boundary. Otherwise (a torn append,
  // or a file written before entries were sector-aligned) the next entry starts with "\n".
  bool clean_end_;
  uint64_t written_ = 0;
};

std::string Base64Encode(std::string_view bytes);
bool Base64Decode(std::string_view text, std::string* out);

}  // namespace edge::publish
