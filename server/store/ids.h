// Identifiers of the relay's records, shared by core/ and store/.
#ifndef CARERELAY_SERVER_STORE_IDS_H_
#define CARERELAY_SERVER_STORE_IDS_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace carerelay::store {

// An account: 16 random bytes, written as 32 lowercase hex characters on the
// wire. Opaque: it says nothing about the person.
class AccountId {
 public:
  static constexpr size_t kSize = 16;

  AccountId() { bytes_.fill(0); }
  // A fresh random id (OpenSSL RAND_bytes).
  static AccountId Random();
  // Parses 32 hex characters; INVALID_ARGUMENT otherwise.
  static absl::StatusOr<AccountId> FromHex(absl::string_view hex);
  // Takes exactly kSize raw bytes; INVALID_ARGUMENT otherwise.
  static absl::StatusOr<AccountId> FromBytes(absl::string_view raw);

  std::string Hex() const;
  absl::string_view Bytes() const {
    return absl::string_view(reinterpret_cast<const char*>(bytes_.data()), kSize);
  }
  bool IsZero() const;

  friend bool operator==(const AccountId& a, const AccountId& b) { return a.bytes_ == b.bytes_; }
  friend bool operator!=(const AccountId& a, const AccountId& b) { return !(a == b); }
  friend bool operator<(const AccountId& a, const AccountId& b) { return a.bytes_ < b.bytes_; }
  template <typename H>
  friend H AbslHashValue(H h, const AccountId& id) {
    return H::combine(std::move(h), id.Bytes());
  }

 private:
  std::array<uint8_t, kSize> bytes_;
};

// One device of one account: the owner of a queue and of prekeys.
struct DeviceRef {
  AccountId account;
  uint32_t device_id = 0;

  std::string ToString() const { return account.Hex() + "." + std::to_string(device_id); }
  friend bool operator==(const DeviceRef& a, const DeviceRef& b) {
    return a.account == b.account && a.device_id == b.device_id;
  }
  friend bool operator<(const DeviceRef& a, const DeviceRef& b) {
    return a.account < b.account || (a.account == b.account && a.device_id < b.device_id);
  }
  template <typename H>
  friend H AbslHashValue(H h, const DeviceRef& d) {
    return H::combine(std::move(h), d.account, d.device_id);
  }
};

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_IDS_H_
