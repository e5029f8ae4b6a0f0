#include "agent/amqp/close_reason.h"

#include <amqp_framing.h>

namespace edge::amqp {
namespace {

std::string BytesText(amqp_bytes_t bytes) {
  if (bytes.len == 0 || bytes.bytes == nullptr) return "";
  return std::string(static_cast<const char*>(bytes.bytes), bytes.len);
}

}  // namespace

CloseKind ClassifyReplyCode(uint16_t reply_code, CloseScope scope, Phase phase) {
  if (scope == CloseScope::kNone) return CloseKind::kNone;
  if (scope == CloseScope::kTransport) return CloseKind::kRetryable;
  switch (reply_code) {
    case AMQP_ACCESS_REFUSED:  // 403
      return phase == Phase::kLogin ? CloseKind::kAuthRefused : CloseKind::kFatalForRoute;
    case AMQP_INVALID_PATH:  // 402: the vhost does not exist
      return CloseKind::kAuthRefused;
    case AMQP_NOT_ALLOWED:  // 530: at login, vhost access refused; later e.g. a broker limit
      if (phase == Phase::kLogin) return CloseKind::kAuthRefused;
      return scope == CloseScope::kChannel ? CloseKind::kFatalForRoute : CloseKind::kRetryable;
    case AMQP_NOT_FOUND:            // 404
    case AMQP_PRECONDITION_FAILED:  // 406
    case AMQP_CONTENT_TOO_LARGE:    // 311
    case AMQP_NO_CONSUMERS:         // 313
      return CloseKind::kFatalForRoute;
    case AMQP_CONNECTION_FORCED:  // 320
    case AMQP_RESOURCE_LOCKED:    // 405
    case AMQP_RESOURCE_ERROR:     // 506
    case AMQP_INTERNAL_ERROR:     // 541
    default:
      // Includes 501-505 and 540 (frame, syntax, command, channel, unexpected frame, not
      // implemented): a protocol disagreement that a fresh connection resets.
      return CloseKind::kRetryable;
  }
}

const char* CloseKindName(CloseKind kind) {
  // One line per name reads as a table.
  // clang-format off
  switch (kind) {
    case CloseKind::kNone: return "none";
    case CloseKind::kRetryable: return "retryable";
    case CloseKind::kFatalForRoute: return "fatal_for_route";
    case CloseKind::kAuthRefused: return "auth_refused";
  }
  // clang-format on
  return "unknown";
}

const char* ReplyCodeName(uint16_t reply_code) {
  // One line per name reads as a table.
  // clang-format off
  switch (reply_code) {
    case AMQP_REPLY_SUCCESS: return "REPLY_SUCCESS";
    case AMQP_CONTENT_TOO_LARGE: return "CONTENT_TOO_LARGE";
    case AMQP_NO_ROUTE: return "NO_ROUTE";
    case AMQP_NO_CONSUMERS: return "NO_CONSUMERS";
    case AMQP_CONNECTION_FORCED: return "CONNECTION_FORCED";
    case AMQP_INVALID_PATH: return "INVALID_PATH";
    case AMQP_ACCESS_REFUSED: return "ACCESS_REFUSED";
    case AMQP_NOT_FOUND: return "NOT_FOUND";
    case AMQP_RESOURCE_LOCKED: return "RESOURCE_LOCKED";
    case AMQP_PRECONDITION_FAILED: return "PRECONDITION_FAILED";
    case AMQP_FRAME_ERROR: return "FRAME_ERROR";
    case AMQP_SYNTAX_ERROR: return "SYNTAX_ERROR";
    case AMQP_COMMAND_INVALID: return "COMMAND_INVALID";
    case AMQP_CHANNEL_ERROR: return "CHANNEL_ERROR";
    case AMQP_UNEXPECTED_FRAME: return "UNEXPECTED_FRAME";
    case AMQP_RESOURCE_ERROR: return "RESOURCE_ERROR";
    case AMQP_NOT_ALLOWED: return "NOT_ALLOWED";
    case AMQP_NOT_IMPLEMENTED: return "NOT_IMPLEMENTED";
    case AMQP_INTERNAL_ERROR: return "INTERNAL_ERROR";
    default: return "UNKNOWN";
  }
  // clang-format on
}

AmqpFailure FailureFromLibraryStatus(int amqp_status) {
  AmqpFailure f;
  if (amqp_status == AMQP_STATUS_OK) return f;
  f.scope = CloseScope::kTransport;
  f.kind = CloseKind::kRetryable;
  f.reply_text = amqp_error_string2(amqp_status);
  return f;
}

AmqpFailure FailureFromCloseMethod(const amqp_method_t& method, Phase phase) {
  AmqpFailure f;
  if (method.id == AMQP_CONNECTION_CLOSE_METHOD && method.decoded != nullptr) {
    const auto* m = static_cast<const amqp_connection_close_t*>(method.decoded);
    f.scope = CloseScope::kConnection;
    f.reply_code = m->reply_code;
    f.reply_text = BytesText(m->reply_text);
    f.class_id = m->class_id;
    f.method_id = m->method_id;
  } else if (method.id == AMQP_CHANNEL_CLOSE_METHOD && method.decoded != nullptr) {
    const auto* m = static_cast<const amqp_channel_close_t*>(method.decoded);
    f.scope = CloseScope::kChannel;
    f.reply_code = m->reply_code;
    f.reply_text = BytesText(m->reply_text);
    f.class_id = m->class_id;
    f.method_id = m->method_id;
  } else {
    f.scope = CloseScope::kConnection;
    f.reply_text = "unexpected method " + std::to_string(method.id) + " from the broker";
  }
  f.kind = ClassifyReplyCode(f.reply_code, f.scope, phase);
  return f;
}

AmqpFailure FailureFromReply(const amqp_rpc_reply_t& reply, Phase phase) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return AmqpFailure{};
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return FailureFromLibraryStatus(reply.library_error != AMQP_STATUS_OK
                                          ? reply.library_error
                                          : AMQP_STATUS_CONNECTION_CLOSED);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      return FailureFromCloseMethod(reply.reply, phase);
    case AMQP_RESPONSE_NONE:
    default: {
      AmqpFailure f;
      f.scope = CloseScope::kTransport;
      f.kind = CloseKind::kRetryable;
      f.reply_text = "rabbitmq-c returned no reply (missing RPC reply type)";
      return f;
    }
  }
}

Status FailureToStatus(const AmqpFailure& failure, const std::string& context) {
  if (failure.ok()) return Status::Ok();
  std::string text = context + ": ";
  switch (failure.scope) {
    case CloseScope::kTransport:
      text += "connection lost (rabbitmq-c: " + failure.reply_text + ")";
      break;
    case CloseScope::kConnection:
    case CloseScope::kChannel:
      text += failure.scope == CloseScope::kChannel ? "channel closed by the broker: "
                                                    : "connection closed by the broker: ";
      text += std::to_string(failure.reply_code) + " " + ReplyCodeName(failure.reply_code);
      if (!failure.reply_text.empty()) text += " (" + failure.reply_text + ")";
      if (failure.class_id != 0) {
        text += " in reply to method " + std::to_string(failure.class_id) + "." +
                std::to_string(failure.method_id);
      }
      break;
    case CloseScope::kNone:
      break;
  }
  text += std::string(" [") + CloseKindName(failure.kind) + "]";
  switch (failure.kind) {
    case CloseKind::kAuthRefused:
      return Status::PermissionDenied(text);
    case CloseKind::kFatalForRoute:
      if (failure.reply_code == AMQP_NOT_FOUND) return Status::NotFound(text);
      if (failure.reply_code == AMQP_ACCESS_REFUSED) return Status::PermissionDenied(text);
      return Status::FailedPrecondition(text);
    case CloseKind::kRetryable:
    case CloseKind::kNone:
    default:
      return Status::Unavailable(text);
  }
}

}  // namespace edge::amqp
