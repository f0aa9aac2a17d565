// DeviceState: what the messenger remembers between runs that is not key
// material: the envelope ids already processed (so an envelope delivered
// twice is shown once), which devices already hold this device's sender key
// for each group, whose sender keys this device holds for each group (so a
// member's keys can be dropped when they leave a team), and the head of each
// team's audit chain as the team events showed it (so a rewritten log can be
// noticed). A small RocksDB in the profile directory.
//
// Nothing in it is message content; it holds ids and hashes only. Devices
// are named "account.device" (crypto::Address::ToString).
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_CLIENT_DEVICE_STATE_H_
#define CARERELAY_CLIENT_DEVICE_STATE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/audit_chain.h"

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
  // The devices marked as holding this device's current sender key for
  // `group_id`, sorted.
  absl::StatusOr<std::vector<std::string>> SenderKeyRecipients(const std::string& group_id);
  // `device` no longer holds it (e.g. its session was lost).
  absl::Status ForgetSenderKeyRecipient(const std::string& group_id, const std::string& device);

  // This device processed `device`'s sender key for `group_id`.
  absl::Status MarkSenderKeyReceived(const std::string& group_id, const std::string& device);
  // The devices whose sender key for `group_id` this device has received,
  // sorted.
  absl::StatusOr<std::vector<std::string>> SenderKeysReceived(const std::string& group_id);
  absl::Status ForgetSenderKeyReceived(const std::string& group_id, const std::string& device);

  // Keeps the newest audit chain head seen for a team (on team events):
  // keeps `head` if it is newer than the one kept for `team_id`.
  absl::Status RememberAuditHead(const std::string& team_id, const AuditHead& head);
  // nullopt if no team event of `team_id` was seen yet.
  absl::StatusOr<std::optional<AuditHead>> LastAuditHead(const std::string& team_id);
  // Forgets what is kept about a team this account is no longer on.
  absl::Status ForgetTeam(const std::string& team_id);

 private:
  explicit DeviceState(std::unique_ptr<rocksdb::DB> db);
  // The device names under `prefix` + group + "/".
  absl::StatusOr<std::vector<std::string>> DevicesUnder(const std::string& prefix,
                                                        const std::string& group_id);
  absl::Status DeleteUnder(const std::string& prefix);
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_DEVICE_STATE_H_
