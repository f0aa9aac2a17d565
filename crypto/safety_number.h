// Safety numbers: what two people compare out of band (read aloud, or scan as
// a QR code) to verify that no one sits between them, i.e. that each device
// holds the other's real identity key. libsignal's fingerprint algorithm:
// 5200 iterations of SHA-512 over each (stable identifier, identity key),
// giving 30 digits per side; both sides see the same 60 digits.
//
// Identity keys are per device in carerelay, so a safety number is computed
// per pair of devices; the stable identifiers are the account ids.
//
// Pure computations over public data; thread-safe with respect to each other,
// but hold the SignalContext's mutex if other threads use the same context
// (ProfileStore::mutex()), as for any libsignal call.

#ifndef CARERELAY_CRYPTO_SAFETY_NUMBER_H_
#define CARERELAY_CRYPTO_SAFETY_NUMBER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/signal_context.h"

namespace carerelay::crypto {

inline constexpr int kSafetyNumberIterations = 5200;
// Format version of the scannable form (libsignal accepts 0 or 1).
inline constexpr int kScannableVersion = 1;

struct SafetyNumber {
  std::string digits;       // 60 decimal digits
  std::string displayable;  // the digits as 12 groups of 5, separated by spaces
  std::string scannable;    // serialized scannable fingerprint (QR code payload)
};

// The safety number between a local identity (account id and serialized
// identity public key) and a remote one. Identical on both sides.
// InvalidArgument for an empty id (or one with a NUL byte) or a malformed key.
absl::StatusOr<SafetyNumber> ComputeSafetyNumber(SignalContext& context,
                                                 absl::string_view local_account_id,
                                                 absl::string_view local_identity_key,
                                                 absl::string_view remote_account_id,
                                                 absl::string_view remote_identity_key);

// Whether `scanned` (the other side's scannable payload) matches `ours`:
// false if either identity key differs (or the code is for another pair of
// devices); FailedPrecondition if it has another format version;
// InvalidArgument if it does not parse.
absl::StatusOr<bool> MatchesScannedSafetyNumber(SignalContext& context, const SafetyNumber& ours,
                                                absl::string_view scanned);

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_SAFETY_NUMBER_H_
