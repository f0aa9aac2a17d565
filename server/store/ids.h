// Identifiers of the relay's records, shared by core/ and store/.
#ifndef CARERELAY_SERVER_STORE_IDS_H_
#define CARERELAY_SERVER_STORE_IDS_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace carerelay::store {

// Fills `out` with `n` random bytes from OpenSSL; aborts if the OS entropy
// source is broken (an id must never be predictable).
void RandomBytes(uint8_t* out, size_t n);
// Decodes 2*n hex characters into `out`; false if malformed.
bool DecodeHex(absl::string_view hex, uint8_t* out, size_t n);

// An opaque 16-byte random id, written as 32 lowercase hex characters on the
// wire. It says nothing about the person or team it names. `Tag` keeps ids
// of different things from being mixed up; Tag::kWhat names them in errors.
template <typename Tag>
class OpaqueId {
 public:
  static constexpr size_t kSize = 16;

  OpaqueId() { bytes_.fill(0); }
  static OpaqueId Random() {
    OpaqueId id;
    RandomBytes(id.bytes_.data(), kSize);
    return id;
  }
  // Parses 32 hex characters; INVALID_ARGUMENT otherwise.
  static absl::StatusOr<OpaqueId> FromHex(absl::string_view hex) {
    OpaqueId id;
    if (hex.size() != 2 * kSize || !DecodeHex(hex, id.bytes_.data(), kSize)) {
      return absl::InvalidArgumentError(absl::StrCat(Tag::kWhat, " id must be ", 2 * kSize,
                                                     " hex characters, got \"", hex.substr(0, 40),
                                                     "\""));
    }
    return id;
  }
  // Takes exactly kSize raw bytes; INVALID_ARGUMENT otherwise.
  static absl::StatusOr<OpaqueId> FromBytes(absl::string_view raw) {
    if (raw.size() != kSize) {
      return absl::InvalidArgumentError(absl::StrCat(Tag::kWhat, " id must be 16 bytes"));
    }
    OpaqueId id;
    std::copy(raw.begin(), raw.end(), id.bytes_.begin());
    return id;
  }

  std::string Hex() const { return absl::BytesToHexString(Bytes()); }
  absl::string_view Bytes() const {
    return absl::string_view(reinterpret_cast<const char*>(bytes_.data()), kSize);
  }
  bool IsZero() const {
    for (uint8_t b : bytes_) {
      if (b != 0) return false;
    }
    return true;
  }

  friend bool operator==(const OpaqueId& a, const OpaqueId& b) { return a.bytes_ == b.bytes_; }
  friend bool operator!=(const OpaqueId& a, const OpaqueId& b) { return !(a == b); }
  friend bool operator<(const OpaqueId& a, const OpaqueId& b) { return a.bytes_ < b.bytes_; }
  template <typename H>
  friend H AbslHashValue(H h, const OpaqueId& id) {
    return H::combine(std::move(h), id.Bytes());
  }

 private:
  std::array<uint8_t, kSize> bytes_;
};

struct AccountIdTag {
  static constexpr const char* kWhat = "account";
};
struct TeamIdTag {
  static constexpr const char* kWhat = "team";
};
// An account: one person (or service) with one or more devices.
using AccountId = OpaqueId<AccountIdTag>;
struct AttachmentIdTag {
  static constexpr const char* kWhat = "attachment";
};
// A care team: one patient pathway.
using TeamId = OpaqueId<TeamIdTag>;
// One uploaded document's ciphertext.
using AttachmentId = OpaqueId<AttachmentIdTag>;

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
