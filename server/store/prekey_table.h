// The public prekeys each device publishes so others can start sessions.
//
// Key encodings:
//   signed_prekeys:    account_id (16) | device_id (4, BE)                 -> SignedPrekeyRecord
//   one_time_prekeys:  account_id (16) | device_id (4, BE) | key_id (4, BE) -> public key bytes
// One-time prekeys are handed out in key id order and deleted as they are.
//
// Thread-safety: thread-safe (stateless over Database).
#ifndef CARERELAY_SERVER_STORE_PREKEY_TABLE_H_
#define CARERELAY_SERVER_STORE_PREKEY_TABLE_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "server/store/database.h"
#include "server/store/ids.h"
#include "server/store/records.pb.h"

namespace carerelay::store {

class PrekeyTable {
 public:
  explicit PrekeyTable(Database* db) : db_(db) {}

  // NOT_FOUND if the device never uploaded one.
  absl::StatusOr<SignedPrekeyRecord> GetSignedPrekey(const DeviceRef& device) const;
  absl::Status PutSignedPrekey(Transaction& txn, const DeviceRef& device,
                               const SignedPrekeyRecord& prekey);

  absl::Status PutOneTimePrekey(Transaction& txn, const DeviceRef& device, uint32_t key_id,
                                absl::string_view public_key);
  absl::StatusOr<uint32_t> CountOneTimePrekeys(const DeviceRef& device) const;
  // Removes and returns the device's lowest-id one-time prekey (key id,
  // public key); a concurrent transaction never gets the same one.
  // NOT_FOUND when the stock is empty.
  absl::StatusOr<std::pair<uint32_t, std::string>> TakeOneTimePrekey(Transaction& txn,
                                                                     const DeviceRef& device);

  // Deletes every prekey of the device.
  absl::Status DeleteDevice(Transaction& txn, const DeviceRef& device);

 private:
  Database* db_;
};

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_PREKEY_TABLE_H_
