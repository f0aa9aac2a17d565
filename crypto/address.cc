#include "crypto/address.h"

#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"

namespace carerelay::crypto {

std::string Address::ToString() const { return absl::StrCat(account_id, ".", device_id); }

absl::Status ValidateAddress(const Address& address) {
  if (address.account_id.empty()) {
    return absl::InvalidArgumentError("address has an empty account id");
  }
  if (address.account_id.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("address account id contains a NUL byte");
  }
  if (address.device_id == 0 ||
      address.device_id > static_cast<uint32_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat("address ", address.ToString(), ": device id must be in 1..2^31-1"));
  }
  return absl::OkStatus();
}

signal_protocol_address ToSignalAddress(const Address& address) {
  signal_protocol_address result;
  result.name = address.account_id.c_str();
  result.name_len = address.account_id.size();
  result.device_id = static_cast<int32_t>(address.device_id);
  return result;
}

}  // namespace carerelay::crypto
