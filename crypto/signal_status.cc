#include "crypto/signal_status.h"

#include <signal/signal_protocol.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace carerelay::crypto {

absl::string_view SignalErrorName(int code) {
  switch (code) {
    case SG_ERR_NOMEM:
      return "SG_ERR_NOMEM";
    case SG_ERR_INVAL:
      return "SG_ERR_INVAL";
    case SG_ERR_UNKNOWN:
      return "SG_ERR_UNKNOWN";
    case SG_ERR_DUPLICATE_MESSAGE:
      return "SG_ERR_DUPLICATE_MESSAGE";
    case SG_ERR_INVALID_KEY:
      return "SG_ERR_INVALID_KEY";
    case SG_ERR_INVALID_KEY_ID:
      return "SG_ERR_INVALID_KEY_ID";
    case SG_ERR_INVALID_MAC:
      return "SG_ERR_INVALID_MAC";
    case SG_ERR_INVALID_MESSAGE:
      return "SG_ERR_INVALID_MESSAGE";
    case SG_ERR_INVALID_VERSION:
      return "SG_ERR_INVALID_VERSION";
    case SG_ERR_LEGACY_MESSAGE:
      return "SG_ERR_LEGACY_MESSAGE";
    case SG_ERR_NO_SESSION:
      return "SG_ERR_NO_SESSION";
    case SG_ERR_STALE_KEY_EXCHANGE:
      return "SG_ERR_STALE_KEY_EXCHANGE";
    case SG_ERR_UNTRUSTED_IDENTITY:
      return "SG_ERR_UNTRUSTED_IDENTITY";
    case SG_ERR_VRF_SIG_VERIF_FAILED:
      return "SG_ERR_VRF_SIG_VERIF_FAILED";
    case SG_ERR_INVALID_PROTO_BUF:
      return "SG_ERR_INVALID_PROTO_BUF";
    case SG_ERR_FP_VERSION_MISMATCH:
      return "SG_ERR_FP_VERSION_MISMATCH";
    case SG_ERR_FP_IDENT_MISMATCH:
      return "SG_ERR_FP_IDENT_MISMATCH";
    default:
      return "SG_ERR_(unnamed)";
  }
}

absl::Status SignalError(int code, absl::string_view what, absl::string_view detail) {
  absl::StatusCode status_code;
  absl::string_view explanation;
  switch (code) {
    case SG_ERR_UNTRUSTED_IDENTITY:
      status_code = absl::StatusCode::kFailedPrecondition;
      explanation =
          "untrusted identity: the contact's identity key differs from the one pinned for it; "
          "compare safety numbers out of band, then accept the new key (TrustIdentity)";
      break;
    case SG_ERR_DUPLICATE_MESSAGE:
      status_code = absl::StatusCode::kAlreadyExists;
      explanation = "duplicate message: it was already decrypted (replay or redelivery)";
      break;
    case SG_ERR_NO_SESSION:
      status_code = absl::StatusCode::kNotFound;
      explanation = "no session with this device";
      break;
    case SG_ERR_INVALID_KEY_ID:
      status_code = absl::StatusCode::kNotFound;
      explanation =
          "the message refers to a prekey this device no longer holds (already used or "
          "rotated out); the sender must start a new session";
      break;
    case SG_ERR_INVALID_MESSAGE:
    case SG_ERR_INVALID_MAC:
    case SG_ERR_INVALID_PROTO_BUF:
      status_code = absl::StatusCode::kInvalidArgument;
      explanation = "invalid ciphertext: corrupt, tampered with, or not for this session";
      break;
    case SG_ERR_INVALID_KEY:
      status_code = absl::StatusCode::kInvalidArgument;
      explanation = "invalid key: malformed public key or bad signature";
      break;
    case SG_ERR_VRF_SIG_VERIF_FAILED:
      status_code = absl::StatusCode::kInvalidArgument;
      explanation = "signature verification failed";
      break;
    case SG_ERR_LEGACY_MESSAGE:
    case SG_ERR_INVALID_VERSION:
      status_code = absl::StatusCode::kInvalidArgument;
      explanation = "unsupported protocol version";
      break;
    case SG_ERR_STALE_KEY_EXCHANGE:
      status_code = absl::StatusCode::kFailedPrecondition;
      explanation = "stale key exchange";
      break;
    case SG_ERR_FP_VERSION_MISMATCH:
      status_code = absl::StatusCode::kFailedPrecondition;
      explanation = "the scanned safety number has a different format version";
      break;
    case SG_ERR_FP_IDENT_MISMATCH:
      status_code = absl::StatusCode::kFailedPrecondition;
      explanation = "the scanned safety number is for a different pair of accounts";
      break;
    case SG_ERR_NOMEM:
      status_code = absl::StatusCode::kResourceExhausted;
      explanation = "out of memory";
      break;
    case SG_ERR_INVAL:
      status_code = absl::StatusCode::kInvalidArgument;
      explanation = "invalid argument";
      break;
    default:
      status_code = absl::StatusCode::kInternal;
      explanation = "libsignal failed";
      break;
  }
  std::string message =
      absl::StrCat(what, ": ", explanation, " [", SignalErrorName(code), " ", code, "]");
  if (!detail.empty()) absl::StrAppend(&message, " (libsignal: ", detail, ")");
  return absl::Status(status_code, message);
}

}  // namespace carerelay::crypto
