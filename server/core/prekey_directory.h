// The prekeys devices publish and others fetch to start end-to-end sessions
// (X3DH). The server checks what it can (key formats, the signed prekey's
// signature against the device's identity key) and hands out each one-time
// prekey at most once.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_PREKEY_DIRECTORY_H_
#define CARERELAY_SERVER_CORE_PREKEY_DIRECTORY_H_

#include "absl/status/statusor.h"
#include "carerelay/v1/keys.pb.h"
#include "server/core/account_registry.h"
#include "server/core/limits.h"
#include "server/store/database.h"
#include "server/store/prekey_table.h"

namespace carerelay::core {

class PrekeyDirectory {
 public:
  PrekeyDirectory(store::Database* db, const AccountRegistry* accounts, const Limits& limits);

  // INVALID_ARGUMENT if the key is malformed or its signature does not verify
  // against the device's identity key.
  absl::Status SetSignedPrekey(const store::DeviceRef& device, const v1::SignedPrekey& prekey);
  // Adds one-time prekeys; returns the stock after. INVALID_ARGUMENT for more
  // than the per-upload limit or a malformed key; RESOURCE_EXHAUSTED past the
  // stock limit (nothing is added).
  absl::StatusOr<uint32_t> AddOneTimePrekeys(
      const store::DeviceRef& device,
      const google::protobuf::RepeatedPtrField<v1::OneTimePrekey>& prekeys);
  absl::StatusOr<uint32_t> CountOneTimePrekeys(const store::DeviceRef& device) const;
  // Bundles of every active device of `account` (or only `device_id` if not
  // 0), each with one one-time prekey taken from the stock when any is left.
  // NOT_FOUND: unknown account or device.
  absl::StatusOr<v1::GetPrekeyBundlesResponse> GetBundles(const store::AccountId& account,
                                                          uint32_t device_id);

 private:
  store::Database* db_;
  const AccountRegistry* accounts_;
  const Limits limits_;
  store::PrekeyTable prekeys_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_PREKEY_DIRECTORY_H_
