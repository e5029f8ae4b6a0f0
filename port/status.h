// Status and Result<T>: errors as values across every component boundary.
//
// A Status is a code plus a message written for the operator: what failed, on what, and what to
// do ("ring /var/lib/edge-agent/ring: fdatasync failed: Input/output error; ..."). Both types are
// [[nodiscard]] so an ignored error does not compile quietly (warnings are errors here).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace edge {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // the caller's input is wrong (bad config value, malformed frame)
  kNotFound,            // a file, route or record that should exist does not
  kAlreadyExists,       // refused to overwrite something that exists
  kCorruption,          // on-disk or on-wire bytes fail a check
  kIoError,             // the OS reported an I/O failure (EIO, failed fsync, ...)
  kNoSpace,             // ENOSPC / EDQUOT
  kPermissionDenied,    // EACCES / EPERM, or a file with unsafe permissions
  kRingFull,            // the ring has no free segment under the `reject` policy
  kTooLarge,            // a payload or frame exceeds a configured limit
  kUnavailable,         // retryable: broker down, connection lost, crashed simulated disk
  kFailedPrecondition,  // the object is not in a state that allows the call
  kShuttingDown,        // the component is stopping and takes no new work
  kTimeout,             // a deadline passed
  kInternal,            // a bug: an invariant did not hold
};

// Stable lower-case names ("ring_full", "io_error") used in logs and on the wire.
const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status NoSpace(std::string m) { return {Code::kNoSpace, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status RingFull(std::string m) { return {Code::kRingFull, std::move(m)}; }
  static Status TooLarge(std::string m) { return {Code::kTooLarge, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status ShuttingDown(std::string m) { return {Code::kShuttingDown, std::move(m)}; }
  static Status Timeout(std::string m) { return {Code::kTimeout, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code name>: <message>", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with context: "ring /x: " + message.
  Status WithContext(const std::string& context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status saying why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = Status::Internal("Result constructed from an OK status");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace edge

// Early return on error, to keep functions flat.
#define EDGE_RETURN_IF_ERROR(expr)          \
  do {                                      \
    ::edge::Status edge_status_ = (expr);   \
    if (!edge_status_.ok()) return edge_status_; \
  } while (0)
