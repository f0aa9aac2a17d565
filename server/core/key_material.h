// Checks on the public key material devices upload, done with libsignal's
// curve functions so the server accepts exactly what libsignal clients can
// use. The server only ever sees public keys.
#ifndef CARERELAY_SERVER_CORE_KEY_MATERIAL_H_
#define CARERELAY_SERVER_CORE_KEY_MATERIAL_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace carerelay::core {

// INVALID_ARGUMENT unless `key` is a serialized Curve25519 public key
// (33 bytes, type byte 0x05). `what` names it in the message.
absl::Status CheckPublicKey(absl::string_view key, absl::string_view what);

// INVALID_ARGUMENT unless `signature` is a valid XEdDSA signature of
// `signed_public_key` (serialized) by `identity_key`.
absl::Status VerifyPrekeySignature(absl::string_view identity_key,
                                   absl::string_view signed_public_key,
                                   absl::string_view signature);

// UNAUTHENTICATED unless `signature` is a valid XEdDSA signature of
// `message` by `identity_key` (a proof that the caller holds the identity
// private key); INVALID_ARGUMENT for a malformed key.
absl::Status VerifyIdentitySignature(absl::string_view identity_key, absl::string_view message,
                                     absl::string_view signature);

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_KEY_MATERIAL_H_
