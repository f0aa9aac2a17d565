// DeviceState: what the messenger remembers between runs that is not key
// material: the envelope ids already processed (so an envelope delivered
// twice is shown once), which devices already hold this device's sender key
// for each group, whose sender keys this device holds for each group (so a
// member's keys can be dropped when they leave a team), the head of each
// team's audit chain as the team events showed it (so a rewritten log can be
// noticed), and for delivery receipts the envelopes this device sent that no
// delivery watermark covers yet, with the highest watermark version seen (so
// a new receive stream resumes after it). A small RocksDB in the profile
// directory.
//
// Nothing in it is message content; it holds ids, sequence numbers, times
// and hashes only. Devices are named "account.device"
// (crypto::Address::ToString).
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_CLIENT_DEVICE_STATE_H_
#define CARERELAY_CLIENT_DEVICE_STATE_H_

#include <cstdint>
#include <memory>
#include <mutex>
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

// An envelope this device sent with a delivery receipt asked for, kept until
// a watermark of its device covers it.
struct SentEnvelope {
  std::string device;             // the recipient device, "account.device"
  uint64_t sequence = 0;          // the envelope's (SendResponse.envelope_ids)
  std::string message_id;         // the Content.message_id it carried
  std::string urgent_message_id;  // an urgent send's id at the server, else ""
  std::string team_id;            // a team send's team, else ""
  int channel = 0;                // a team send's channel (v1::Channel), else 0
  absl::Time sent_at = absl::UnixEpoch();
};

// A delivery watermark: `device` has stored everything this device sent it,
// receipt asked, with a sequence up to `delivered_through`.
struct DeliveredThrough {
  std::string device;  // "account.device"
  uint64_t delivered_through = 0;
};

class DeviceState {
 public:
  // Opens or creates the state database in `directory`.
  static absl::StatusOr<std::unique_ptr<DeviceState>> Open(const std::string& directory);
  ~DeviceState();

  // Whether `envelope_id` was recorded as processed.
  absl::StatusOr<bool> IsProcessed(const std::string& envelope_id);
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

  // Keeps `sent` (one write) until a watermark covers them.
  absl::Status RememberSent(const std::vector<SentEnvelope>& sent);
  // Applies one stream message's delivery watermarks in one write: takes out
  // and returns the kept envelopes each covers (those to its device with a
  // sequence up to its delivered_through), ordered by device then sequence,
  // and keeps `version` as the watermark version if it is higher than the
  // one kept. A watermark that covers nothing kept (its envelopes were taken
  // out before, or sent without a receipt) returns nothing.
  absl::StatusOr<std::vector<SentEnvelope>> TakeDelivered(
      const std::vector<DeliveredThrough>& watermarks, uint64_t version);
  // The highest watermark version kept (0 if none): where the next receive
  // stream resumes (ReceiveRequest.watermarks_after_version).
  absl::StatusOr<uint64_t> WatermarkVersion();
  // Forgets kept envelopes sent before `before` that no watermark covered
  // (their device never stored them: revoked, or they expired on the server).
  absl::Status PruneSent(absl::Time before);
  // PruneProcessed and PruneSent of what is older than `now - keep`, at most
  // once per `every` (the time of the last pass is kept): cheap when not due.
  absl::Status PruneIfDue(absl::Time now, absl::Duration keep, absl::Duration every);

 private:
  explicit DeviceState(std::unique_ptr<rocksdb::DB> db);
  // The device names under `prefix` + group + "/".
  absl::StatusOr<std::vector<std::string>> DevicesUnder(const std::string& prefix,
                                                        const std::string& group_id);
  absl::Status DeleteUnder(const std::string& prefix);
  std::unique_ptr<rocksdb::DB> db_;
  // Makes TakeDelivered's read and delete one step for concurrent callers
  // (so two never return the same envelope).
  std::mutex sent_mu_;
};

}  // namespace carerelay::client

#endif  // CARERELAY_CLIENT_DEVICE_STATE_H_
