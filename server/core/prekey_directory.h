// The prekeys devices publish and others fetch to start end-to-end sessions
// (X3DH). The server checks what it can (key formats, the signed prekey's
// signature against the device's identity key) and hands out each one-time
// prekey at most once.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_CORE_PREKEY_DIRECTORY_H_
#define CARERELAY_SERVER_CORE_PREKEY_DIRECTORY_H_

#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "carerelay/v1/keys.pb.h"
#include "server/core/account_registry.h"
#include "server/core/clock.h"
#include "server/core/contact_policy.h"
#include "server/core/limits.h"
#include "server/core/rate_limiter.h"
#include "server/store/database.h"
#include "server/store/prekey_table.h"

namespace carerelay::core {

class PrekeyDirectory {
 public:
  // All pointers must outlive the directory.
  PrekeyDirectory(store::Database* db, const AccountRegistry* accounts,
                  const ContactPolicy* contacts, const Clock* clock, const Limits& limits);

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
  // 0), each with one one-time prekey taken from the stock when any is left,
  // for `requester`. Only someone who may message that account gets them
  // (contact_policy.h): a bundle says which devices a person has and takes
  // a one-time prekey, so strangers must neither learn one nor drain the
  // stock. Errors:
  //   NOT_FOUND           unknown account or device
  //   PERMISSION_DENIED   `requester` may not message that account
  //   RESOURCE_EXHAUSTED  `requester`'s account fetched that account's
  //                       bundles Limits::prekey_fetches_per_hour times
  //                       lately (retry_after_seconds says when again)
  absl::StatusOr<v1::GetPrekeyBundlesResponse> GetBundles(const store::DeviceRef& requester,
                                                          const store::AccountId& account,
                                                          uint32_t device_id);

 private:
  store::Database* db_;
  const AccountRegistry* accounts_;
  const ContactPolicy* contacts_;
  const Limits limits_;
  // Keyed "requester account>target account".
  RateLimiter fetches_;
  static constexpr size_t kUploadStripes = 64;
  absl::Mutex upload_stripes_[kUploadStripes];
  store::PrekeyTable prekeys_;
};

}  // namespace carerelay::core

#endif  // CARERELAY_SERVER_CORE_PREKEY_DIRECTORY_H_
