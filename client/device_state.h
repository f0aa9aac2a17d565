// DeviceState: what the messenger remembers between runs that is not key
// material: the envelope ids already processed (so an envelope delivered
// twice is shown once) and which devices already hold this device's sender
// key for each group. A small RocksDB in the profile directory.
//
// Nothing in it is message content; it holds ids only.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_CLIENT_DEVICE_STATE_H_
#define CARERELAY_CLIENT_DEVICE_STATE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rocksdb {
class DB;
}

namespace carerelay::client {

class DeviceState {
 public:
  // Opens or creates the state database in `directory`.
  static absl::StatusOr<std::unique_ptr<DeviceState>> Open(const std::string& directory);
  ~DeviceState();

  // Records `envelope_id` as processed; false if it already was.
  absl::StatusOr<bool> MarkProcessed(const std::string& envelope_id, absl::Time now);
  // Forgets processed ids older than `before` (the server's queue TTL bounds
  // how late a duplicate can come).
  absl::Status PruneProcessed(absl::Time before);

  // Whether `device` ("account.device") holds this device's current sender
  // key for `group_id`.
  absl::StatusOr<bool> HasSenderKey(const std::string& group_id, const std::string& device);
  absl::Status MarkSenderKeySent(const std::string& group_id, const std::string& device);
  // After a rotation: nobody holds the new key yet.
  absl::Status ForgetSenderKeyRecipients(const std::string& group_id);

 private:
  explicit DeviceState(std::unique_ptr<rocksdb::DB> db);
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_DEVICE_STATE_H_
