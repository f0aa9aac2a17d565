#include "server/core/key_material.h"

#include <curve.h>
#include <signal_protocol.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace carerelay::core {
namespace {

constexpr size_t kPublicKeySize = 33;
constexpr uint8_t kDjbType = 0x05;

struct PublicKeyUnref {
  void operator()(ec_public_key* key) const { SIGNAL_UNREF(key); }
};
using PublicKeyPtr = std::unique_ptr<ec_public_key, PublicKeyUnref>;

absl::Status Decode(absl::string_view key, absl::string_view what, PublicKeyPtr* out) {
  if (key.size() != kPublicKeySize || static_cast<uint8_t>(key[0]) != kDjbType) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " must be a serialized Curve25519 public key (33 bytes starting with 0x05), got ",
        key.size(), " bytes"));
  }
  ec_public_key* raw = nullptr;
  // The context argument is only used for logging; none is needed here.
  if (curve_decode_point(&raw, reinterpret_cast<const uint8_t*>(key.data()), key.size(), nullptr) !=
      0) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a valid public key"));
  }
  out->reset(raw);
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckPublicKey(absl::string_view key, absl::string_view what) {
  PublicKeyPtr decoded;
  return Decode(key, what, &decoded);
}

absl::Status VerifyPrekeySignature(absl::string_view identity_key,
                                   absl::string_view signed_public_key,
                                   absl::string_view signature) {
  PublicKeyPtr identity;
  absl::Status s = Decode(identity_key, "identity key", &identity);
  if (!s.ok()) return s;
  s = CheckPublicKey(signed_public_key, "signed prekey");
  if (!s.ok()) return s;
  if (signature.size() != CURVE_SIGNATURE_LEN) {
    return absl::InvalidArgumentError(
        absl::StrCat("signed prekey signature must be ", CURVE_SIGNATURE_LEN, " bytes"));
  }
  int valid = curve_verify_signature(
      identity.get(), reinterpret_cast<const uint8_t*>(signed_public_key.data()),
      signed_public_key.size(), reinterpret_cast<const uint8_t*>(signature.data()),
      signature.size());
  if (valid != 1) {
    return absl::InvalidArgumentError(
        "signed prekey signature does not verify against the device's identity key");
  }
  return absl::OkStatus();
}

absl::Status VerifyIdentitySignature(absl::string_view identity_key, absl::string_view message,
                                     absl::string_view signature) {
  PublicKeyPtr identity;
  absl::Status s = Decode(identity_key, "identity key", &identity);
  if (!s.ok()) return s;
  if (signature.size() != CURVE_SIGNATURE_LEN ||
      curve_verify_signature(identity.get(), reinterpret_cast<const uint8_t*>(message.data()),
                             message.size(), reinterpret_cast<const uint8_t*>(signature.data()),
                             signature.size()) != 1) {
    return absl::UnauthenticatedError(
        "the signature does not verify against this device's identity key");
  }
  return absl::OkStatus();
}

}  // namespace carerelay::core
