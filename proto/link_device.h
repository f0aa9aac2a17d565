// The statement a LinkDeviceRequest's identity_signature signs
// (accounts.proto), shared by the client that signs it and the server that
// verifies it, so the two can never disagree on the bytes.
#ifndef CARERELAY_PROTO_LINK_DEVICE_H_
#define CARERELAY_PROTO_LINK_DEVICE_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace carerelay {

// How far the request's issued_at_unix may be from the server's clock.
inline constexpr int64_t kLinkRequestMaxSkewSeconds = 300;

// "carerelay link-device v1\n<account hex>\n<device id>\n<issued at>\n<ttl>".
// A domain string first, so the identity key's signature over it can never
// be taken for a signature over a prekey or any other message.
inline std::string LinkDeviceStatement(absl::string_view account_hex, uint32_t device_id,
                                       int64_t issued_at_unix, uint32_t ttl_seconds) {
  return absl::StrCat("carerelay link-device v1\n", account_hex, "\n", device_id, "\n",
                      issued_at_unix, "\n", ttl_seconds);
}

}  // namespace carerelay

#endif  // CARERELAY_PROTO_LINK_DEVICE_H_
