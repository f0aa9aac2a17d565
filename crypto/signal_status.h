// Translation of libsignal-protocol-c result codes into absl::Status, so that
// callers of crypto/ see one error vocabulary with messages a person can act
// on.
//
//   SG_ERR_UNTRUSTED_IDENTITY   -> FailedPrecondition (the pinned identity key
//                                  differs: verify the safety number, then
//                                  ProfileStore::TrustIdentity)
//   SG_ERR_DUPLICATE_MESSAGE    -> AlreadyExists (already decrypted: a replay or
//                                  a redelivery; acknowledge and drop it)
//   SG_ERR_NO_SESSION           -> NotFound (no session / sender key yet)
//   SG_ERR_INVALID_KEY_ID       -> NotFound (the message needs a prekey or
//                                  sender key this device no longer holds)
//   SG_ERR_INVALID_MESSAGE, SG_ERR_INVALID_MAC, SG_ERR_INVALID_PROTO_BUF
//                               -> InvalidArgument (corrupt, tampered or not
//                                  for this session)
//   SG_ERR_INVALID_KEY, SG_ERR_VRF_SIG_VERIF_FAILED
//                               -> InvalidArgument (malformed key or bad
//                                  signature)
//   SG_ERR_LEGACY_MESSAGE, SG_ERR_INVALID_VERSION
//                               -> InvalidArgument (unsupported protocol
//                                  version)
//   SG_ERR_STALE_KEY_EXCHANGE   -> FailedPrecondition
//   SG_ERR_FP_VERSION_MISMATCH, SG_ERR_FP_IDENT_MISMATCH
//                               -> FailedPrecondition (scanned safety number
//                                  of another version / other identities)
//   SG_ERR_NOMEM                -> ResourceExhausted
//   SG_ERR_INVAL                -> InvalidArgument
//   anything else               -> Internal
//
// Stored data that fails to decrypt or parse is reported by ProfileStore as
// DataLoss, which takes precedence over the code libsignal returns.

#ifndef CARERELAY_CRYPTO_SIGNAL_STATUS_H_
#define CARERELAY_CRYPTO_SIGNAL_STATUS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace carerelay::crypto {

// `code` must be negative. `what` names the operation and its subject
// ("decrypt from 0a1b...ff.2"); `detail`, if not empty, is appended (the last
// libsignal log line, see SignalContext::TakeLastLog).
absl::Status SignalError(int code, absl::string_view what, absl::string_view detail = {});

// A short name for a libsignal code ("SG_ERR_INVALID_MESSAGE"), for messages.
absl::string_view SignalErrorName(int code);

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_SIGNAL_STATUS_H_
