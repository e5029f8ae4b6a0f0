// Why an AMQP call failed, and what the caller should do about it.
//
// rabbitmq-c reports failures three ways: a library status (socket closed, timeout, ...), a
// connection.close from the broker (connection gone), or a channel.close (channel gone, connection
// alive). AmqpFailure holds any of them with the broker's reply code and text; CloseKind is the
// decision the publisher and worker act on:
//
//   kRetryable      connection loss, 320 CONNECTION_FORCED (broker restart, admin close),
//                   405 RESOURCE_LOCKED, 506 RESOURCE_ERROR, 541 INTERNAL_ERROR, protocol errors
//                   (5xx: a fresh connection starts clean). Reconnect with back-off, resend.
//   kFatalForRoute  404 NOT_FOUND, 403 ACCESS_REFUSED (on a channel), 406 PRECONDITION_FAILED
//                   (e.g. a queue declared with other arguments), 311 CONTENT_TOO_LARGE: this
//                   route cannot work until its config or the broker's topology changes. Stop
//                   the route and report; other routes on the connection may go on.
//   kAuthRefused    the broker refused the login or the vhost: 403 ACCESS_REFUSED during login,
//                   402 INVALID_PATH / 530 NOT_ALLOWED on connection.open. Retrying with the
//                   same credentials will not help: back off long and alert the operator.
//
// Reply codes are those of AMQP 0-9-1 (amqp_framing.h: AMQP_NOT_FOUND, ...).
#pragma once

#include <amqp.h>

#include <cstdint>
#include <string>

#include "port/status.h"

namespace edge::amqp {

enum class CloseScope {
  kNone,        // no failure
  kTransport,   // rabbitmq-c / socket level: the connection is gone
  kConnection,  // the broker sent connection.close: the connection is gone
  kChannel,     // the broker sent channel.close: the connection may continue
};

enum class CloseKind { kNone, kRetryable, kFatalForRoute, kAuthRefused };

// Whether the failure happened while logging in (connection.start .. connection.open), where an
// access refusal means credentials or vhost, rather than later on a channel.
enum class Phase { kLogin, kOpen };

struct AmqpFailure {
  CloseScope scope = CloseScope::kNone;
  CloseKind kind = CloseKind::kNone;
  uint16_t reply_code = 0;  // AMQP reply code; 0 for transport failures
  std::string reply_text;   // the broker's text, or rabbitmq-c's error string
  uint16_t class_id = 0;    // the method the broker objected to (0 if none)
  uint16_t method_id = 0;

  bool ok() const { return scope == CloseScope::kNone; }
};

// The decision table above, without a broker (unit-testable).
CloseKind ClassifyReplyCode(uint16_t reply_code, CloseScope scope, Phase phase);

// Stable names for logs: "retryable", "fatal_for_route", "auth_refused", "none".
const char* CloseKindName(CloseKind kind);
// "NOT_FOUND", "ACCESS_REFUSED", ... ("UNKNOWN" for codes AMQP 0-9-1 does not define).
const char* ReplyCodeName(uint16_t reply_code);

// Reads an rpc reply (and, for server exceptions, the close method it carries).
AmqpFailure FailureFromReply(const amqp_rpc_reply_t& reply, Phase phase);
// Reads a connection.close / channel.close method received as a frame (e.g. while waiting for
// confirms). Any other method gives a failure with reply code 0 classified kRetryable.
AmqpFailure FailureFromCloseMethod(const amqp_method_t& method, Phase phase);
// A rabbitmq-c library status (amqp_status_enum) that is not AMQP_STATUS_OK.
AmqpFailure FailureFromLibraryStatus(int amqp_status);

// The operator-facing Status: "<what> on <url>: channel closed by the broker: 404 NOT_FOUND -
// no queue 'q' in vhost '/' [fatal_for_route]". Codes: kUnavailable (retryable),
// kPermissionDenied (auth refused, 403), kNotFound (404), kFailedPrecondition (other fatal).
Status FailureToStatus(const AmqpFailure& failure, const std::string& context);

}  // namespace edge::amqp
