#include "server/store/ids.h"

#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace carerelay::store {

AccountId AccountId::Random() {
  AccountId id;
  // RAND_bytes only fails when the OS entropy source is broken; an account id
  // must never be predictable, so that is fatal.
  if (RAND_bytes(id.bytes_.data(), kSize) != 1) abort();
  return id;
}

absl::StatusOr<AccountId> AccountId::FromHex(absl::string_view hex) {
  if (hex.size() != 2 * kSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("account id must be ", 2 * kSize, " hex characters, got ", hex.size()));
  }
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return absl::InvalidArgumentError("account id must be hexadecimal");
    }
  }
  return FromBytes(absl::HexStringToBytes(hex));
}

absl::StatusOr<AccountId> AccountId::FromBytes(absl::string_view raw) {
  if (raw.size() != kSize) return absl::InvalidArgumentError("account id must be 16 bytes");
  AccountId id;
  std::copy(raw.begin(), raw.end(), id.bytes_.begin());
  return id;
}

std::string AccountId::Hex() const { return absl::BytesToHexString(Bytes()); }

bool AccountId::IsZero() const {
  for (uint8_t b : bytes_) {
    if (b != 0) return false;
  }
  return true;
}

}  // namespace carerelay::store
