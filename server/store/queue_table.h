// Per-device queues of envelopes, in server sequence order.
//
// Key encoding:
//   queue: account_id (16) | device_id (4, BE) | sequence (8, BE) -> carerelay.v1.Envelope
// Big-endian integers make a prefix scan of one device return its envelopes
// in sequence order. Sequence numbers come from SequenceAllocator and are
// unique across the whole store, so an envelope id is its sequence number.
//
// The table also keeps each device's queue depth in memory, in total and
// per sender account (counted from the store the first time a device is
// seen), so a send can check the depth limit and the sender's share of it
// without a scan.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_STORE_QUEUE_TABLE_H_
#define CARERELAY_SERVER_STORE_QUEUE_TABLE_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "carerelay/v1/messages.pb.h"
#include "server/store/database.h"
#include "server/store/ids.h"

namespace carerelay::store {

class QueueTable {
 public:
  explicit QueueTable(Database* db) : db_(db) {}

  // Queues `envelope` (its `sequence` must be set) for `device`.
  absl::Status Append(Transaction& txn, const DeviceRef& device, const v1::Envelope& envelope);
  // The same in a blind batch: `body` is a serialized Envelope without id
  // and sequence, `stamp` the serialized id and sequence fields (protobuf
  // concatenation merges them), so the writer thread copies bytes only.
  void Append(Batch& batch, const DeviceRef& device, uint64_t sequence, absl::string_view body,
              absl::string_view stamp);
  // Deletes one delivered envelope in a blind batch (acknowledgement).
  void Delete(Batch& batch, const DeviceRef& device, uint64_t sequence);

  // Up to `max` envelopes of `device` with sequence > `after`, in order.
  // Envelopes whose expiry is before `now_ms` are skipped.
  absl::Status Read(const DeviceRef& device, uint64_t after, size_t max, int64_t now_ms,
                    std::vector<v1::Envelope>* out) const;

  // Reads and locks one envelope. NOT_FOUND if it is not queued (acknowledged
  // already, expired, or never for this device).
  absl::StatusOr<v1::Envelope> GetForUpdate(Transaction& txn, const DeviceRef& device,
                                            uint64_t sequence);
  absl::Status Delete(Transaction& txn, const DeviceRef& device, uint64_t sequence);
  // Deletes the whole queue of a device (revocation).
  absl::Status DeleteDevice(Transaction& txn, const DeviceRef& device);
  // Deletes the envelopes of `device` that belong to the team whose wire id
  // is `team_id_hex` (removal from a team, team erasure); returns how many.
  // The caller releases that much depth once committed.
  absl::StatusOr<uint64_t> DeleteTeamEnvelopes(Transaction& txn, const DeviceRef& device,
                                               const std::string& team_id_hex);
  // As DeleteTeamEnvelopes, only the envelopes posted on one of `channels`
  // (carerelay.v1.Channel values): a member who stays on the team but loses
  // read access to those channels. The team's server events (no channel)
  // stay.
  absl::StatusOr<uint64_t> DeleteTeamChannelEnvelopes(Transaction& txn, const DeviceRef& device,
                                                      const std::string& team_id_hex,
                                                      const std::vector<int>& channels);

  // Deletes every envelope that expired before `now_ms`, in batches, and
  // returns how many. Depth counters are adjusted.
  absl::StatusOr<uint64_t> DeleteExpired(int64_t now_ms);

  // Depth accounting, per device and per sender within it. The sender of
  // an envelope is its sender's account, or the zero AccountId for the
  // server's own envelopes (SenderOf).
  static AccountId SenderOf(const v1::Envelope& envelope);

  enum class Room {
    kReserved,   // counted; the caller writes, or calls ReleaseDepth
    kQueueFull,  // the device's queue would exceed `depth_limit`
    kShareFull,  // `sender`'s envelopes in it would exceed `share_limit`
  };
  // Adds `n` envelopes from `sender` to the device's depth if the device
  // stays within `depth_limit` and the sender within `share_limit`; changes
  // nothing otherwise. Errors: only the store's, when the device's queue is
  // counted for the first time.
  absl::StatusOr<Room> ReserveDepth(const DeviceRef& device, const AccountId& sender, uint64_t n,
                                    uint64_t depth_limit, uint64_t share_limit);
  // Gives back `n` envelopes from `sender`: acknowledged, expired, or
  // reserved and then not written.
  void ReleaseDepth(const DeviceRef& device, const AccountId& sender, uint64_t n);
  // After deleting `n` envelopes whose senders the caller did not count (a
  // team's envelopes): the device's counters are dropped and counted again
  // from the store when next needed.
  void ReleaseDepth(const DeviceRef& device, uint64_t n);
  absl::StatusOr<uint64_t> Depth(const DeviceRef& device);
  // `sender`'s envelopes in the device's queue.
  absl::StatusOr<uint64_t> DepthFrom(const DeviceRef& device, const AccountId& sender);
  void ForgetDepth(const DeviceRef& device);

 private:
  // Deletes the envelopes of `device` of that team for which `which` is true.
  absl::StatusOr<uint64_t> DeleteTeamEnvelopesIf(
      Transaction& txn, const DeviceRef& device, const std::string& team_id_hex,
      const std::function<bool(const v1::Envelope&)>& which);
  struct Counters {
    uint64_t total = 0;
    absl::flat_hash_map<AccountId, uint64_t> by_sender;
  };
  // Returns the counters for `device`, counting its queue if unknown.
  absl::StatusOr<Counters*> CountersLocked(const DeviceRef& device)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(depth_mu_);

  Database* db_;
  absl::Mutex depth_mu_;
  absl::flat_hash_map<DeviceRef, Counters> depth_ ABSL_GUARDED_BY(depth_mu_);
};

// Hands out store-wide unique, increasing sequence numbers that survive
// restarts. It persists a ceiling ahead of use (a lease of `lease` numbers),
// so allocation rarely writes; a restart skips the unused rest of the lease.
// Thread-safe.
class SequenceAllocator {
 public:
  static absl::StatusOr<std::unique_ptr<SequenceAllocator>> Open(Database* db,
                                                                 uint64_t lease = 1 << 20);
  // The first of `n` consecutive fresh numbers.
  absl::StatusOr<uint64_t> Allocate(uint64_t n);

 private:
  SequenceAllocator(Database* db, uint64_t lease) : db_(db), lease_(lease) {}
  absl::Status PersistCeiling(uint64_t ceiling);

  Database* db_;
  const uint64_t lease_;
  absl::Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t ceiling_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_QUEUE_TABLE_H_
