#include "crypto/safety_number.h"

#include <signal/curve.h>
#include <signal/fingerprint.h>

#include <cctype>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crypto/signal_ptr.h"
#include "crypto/signal_status.h"

namespace carerelay::crypto {
namespace {

constexpr size_t kDigits = 60;
constexpr size_t kGroup = 5;

absl::Status ValidateId(absl::string_view id, absl::string_view which) {
  if (id.empty() || id.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(which, " account id must be non-empty and without NUL bytes"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SafetyNumber> ComputeSafetyNumber(SignalContext& context,
                                                 absl::string_view local_account_id,
                                                 absl::string_view local_identity_key,
                                                 absl::string_view remote_account_id,
                                                 absl::string_view remote_identity_key) {
  if (absl::Status s = ValidateId(local_account_id, "local"); !s.ok()) return s;
  if (absl::Status s = ValidateId(remote_account_id, "remote"); !s.ok()) return s;
  std::lock_guard<std::recursive_mutex> lock(context.mutex());
  SignalRef<ec_public_key> local_key, remote_key;
  if (curve_decode_point(Out(local_key), Bytes(local_identity_key), local_identity_key.size(),
                         context.get()) < 0) {
    return absl::InvalidArgumentError("local identity key is not a serialized public key");
  }
  if (curve_decode_point(Out(remote_key), Bytes(remote_identity_key), remote_identity_key.size(),
                         context.get()) < 0) {
    return absl::InvalidArgumentError("remote identity key is not a serialized public key");
  }
  FingerprintGeneratorPtr generator;
  int rc = fingerprint_generator_create(Out(generator), kSafetyNumberIterations, kScannableVersion,
                                        context.get());
  if (rc < 0) return SignalError(rc, "safety number generator");
  // libsignal takes NUL-terminated identifiers.
  const std::string local_id(local_account_id);
  const std::string remote_id(remote_account_id);
  SignalRef<fingerprint> result;
  rc = fingerprint_generator_create_for(generator.get(), local_id.c_str(), local_key.get(),
                                        remote_id.c_str(), remote_key.get(), Out(result));
  if (rc < 0) return SignalError(rc, "safety number", context.TakeLastLog());

  SafetyNumber number;
  const char* text = displayable_fingerprint_text(fingerprint_get_displayable(result.get()));
  number.digits = text != nullptr ? text : "";
  if (number.digits.size() != kDigits) {
    return absl::InternalError(
        absl::StrCat("safety number has ", number.digits.size(), " digits, expected ", kDigits));
  }
  for (size_t i = 0; i < number.digits.size(); i += kGroup) {
    if (i > 0) number.displayable.push_back(' ');
    number.displayable.append(number.digits, i, kGroup);
  }
  SignalBuffer scannable;
  rc = scannable_fingerprint_serialize(Out(scannable), fingerprint_get_scannable(result.get()));
  if (rc < 0) return SignalError(rc, "serialize scannable safety number");
  number.scannable = BufferToString(scannable.get());
  return number;
}

absl::StatusOr<bool> MatchesScannedSafetyNumber(SignalContext& context, const SafetyNumber& ours,
                                                absl::string_view scanned) {
  std::lock_guard<std::recursive_mutex> lock(context.mutex());
  SignalRef<scannable_fingerprint> local, remote;
  int rc = scannable_fingerprint_deserialize(Out(local), Bytes(ours.scannable),
                                             ours.scannable.size(), context.get());
  if (rc < 0) return SignalError(rc, "our scannable safety number");
  rc =
      scannable_fingerprint_deserialize(Out(remote), Bytes(scanned), scanned.size(), context.get());
  if (rc < 0) {
    return absl::InvalidArgumentError("the scanned code is not a safety number");
  }
  rc = scannable_fingerprint_compare(local.get(), remote.get());
  if (rc < 0) return SignalError(rc, "compare scanned safety number");
  return rc == 1;
}

}  // namespace carerelay::crypto
