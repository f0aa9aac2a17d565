// Idempotency keys of sends: what a send with a client-chosen key answered,
// so that a retry after an unknown outcome is answered the same and queues
// nothing twice (messages.proto, SendRequest.idempotency_key).
//
// Key encoding:
//   send_keys: sender account (16) | sender device (4, BE) | key (1..64 bytes)
//           -> carerelay.v1.SendResponse (its server_timestamp_ms dates it)
// Only successful sends are recorded, in the same write as their envelopes.
//
// Thread-safety: thread-safe.
#ifndef CARERELAY_SERVER_STORE_SEND_KEY_TABLE_H_
#define CARERELAY_SERVER_STORE_SEND_KEY_TABLE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "carerelay/v1/messages.pb.h"
#include "server/store/database.h"
#include "server/store/ids.h"

namespace carerelay::store {

class SendKeyTable {
 public:
  explicit SendKeyTable(Database* db) : db_(db) {}

  // The store key of (sender, idempotency key).
  static std::string Key(const DeviceRef& sender, absl::string_view idempotency_key);

  // The recorded answer; NOT_FOUND if none. DATA_LOSS if unreadable.
  absl::StatusOr<v1::SendResponse> Get(absl::string_view key) const;
  // As Get, and locks the key until `txn` ends: a retry of the same send
  // waits for the first one's commit, then finds its answer.
  absl::StatusOr<v1::SendResponse> GetForUpdate(Transaction& txn, absl::string_view key) const;
  void Put(Batch& batch, absl::string_view key, const v1::SendResponse& response);
  absl::Status Put(Transaction& txn, absl::string_view key, const v1::SendResponse& response);
  // Deletes the records of sends answered before `before_ms`; returns how many.
  absl::StatusOr<uint64_t> DeleteOlderThan(int64_t before_ms);
  // Deletes the records of one device (revocation).
  absl::Status DeleteDevice(Transaction& txn, const DeviceRef& device);

 private:
  Database* db_;
};

}  // namespace carerelay::store

#endif  // CARERELAY_SERVER_STORE_SEND_KEY_TABLE_H_
