// Address: one device of one account, the unit libsignal keeps a session,
// a pinned identity and a sender key for.
//
// Each device has its own identity key and its own sessions (DESIGN.md:
// "a device registers with its identity key"), so everything in crypto/ is
// keyed by (account id, device id), never by account alone.

#ifndef CARERELAY_CRYPTO_ADDRESS_H_
#define CARERELAY_CRYPTO_ADDRESS_H_

#include <signal/signal_protocol_types.h>

#include <cstdint>
#include <string>
#include <tuple>

#include "absl/status/status.h"

namespace carerelay::crypto {

struct Address {
  // The account id as the server assigns it (32 lowercase hex characters).
  // crypto/ accepts any non-empty string without NUL bytes: libsignal logs
  // names with printf("%s"), so an embedded NUL would truncate them.
  std::string account_id;
  // 1.. per account. libsignal stores device ids as int32, so at most
  // INT32_MAX.
  uint32_t device_id = 0;

  // "account_id.device_id", for messages and logs.
  std::string ToString() const;

  friend bool operator==(const Address& a, const Address& b) {
    return a.device_id == b.device_id && a.account_id == b.account_id;
  }
  friend bool operator!=(const Address& a, const Address& b) { return !(a == b); }
  friend bool operator<(const Address& a, const Address& b) {
    return std::tie(a.account_id, a.device_id) < std::tie(b.account_id, b.device_id);
  }
};

// OK, or InvalidArgument naming what is wrong with `address`.
absl::Status ValidateAddress(const Address& address);

// A libsignal view of `address`. It borrows address.account_id (which is
// NUL-terminated, as libsignal's log calls need): the result is valid only
// while `address` lives unmodified. libsignal ciphers and builders keep the
// pointer, so the Address must outlive them too.
signal_protocol_address ToSignalAddress(const Address& address);

}  // namespace carerelay::crypto

#endif  // CARERELAY_CRYPTO_ADDRESS_H_
