// What a handler is told about its message (environment variables; the list is in worker.h),
// and how an attempt's outcome is described in the x-edge-* headers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/worker/delivery.h"
#include "port/subprocess.h"

namespace edge::worker {

// Header values larger than this are not exported as EDGE_HEADER_* (Linux limits one
// environment string to 128 KiB; a handler needing big metadata should read it from the body).
constexpr size_t kMaxHeaderEnvBytes = 64 * 1024;

// "EDGE_HEADER_" + the name upper-cased, every byte other than [A-Z0-9] replaced by '_'
// ("x-trace-id" -> "EDGE_HEADER_X_TRACE_ID").
std::string HeaderEnvName(std::string_view header_name);

// EDGE_MESSAGE_ID ... EDGE_DUPLICATE, then EDGE_HEADER_<NAME> for every string header (values
// with a NUL byte or over kMaxHeaderEnvBytes are skipped).
std::vector<std::pair<std::string, std::string>> HandlerEnvironment(const Delivery& delivery,
                                                                    int attempt, bool duplicate);

// Why an attempt failed, for x-edge-last-error / x-edge-last-exit-code.
struct AttemptFailure {
  std::string last_error;  // "exit code 3", "killed by signal 9", "timed out after 30 s", ...
  int64_t exit_code = -1;  // the handler's exit code; -1 when it did not exit by itself
};

// The failure an attempt's result represents, or an empty last_error when it succeeded.
// `reply_wanted`: stdout is the RPC reply, so output beyond the reply limit is a failure.
AttemptFailure DescribeAttempt(const port::SubprocessResult& result, int timeout_s,
                               bool reply_wanted, size_t max_reply_bytes);

}  // namespace edge::worker
